package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/machine/vchconfig"
)

// UpgradeOptions move a VCH to other binaries.
type UpgradeOptions struct {
	Name, StateDir string
	VCHD, Tether   string // the installation's binaries
	Version        string // the installation's version
	Rollback       bool
	Force          bool // upgrade a VCH that already has Version
	Timeout        time.Duration
}

// upgradeDir keeps what a rollback needs: the config and version file of
// before the upgrade and copies of the vchd and tether the VCH ran.
const upgradeDir = "upgrade"

// Upgrade restarts the VCH's vchd on the installation's binaries and
// records the new version; with Rollback it restarts it on the binaries
// and config kept by the last upgrade. Container VMs keep running through
// either (vchd detaches and re-attaches); containers started later boot
// the new tether. It returns the version the VCH runs now.
func Upgrade(ctx context.Context, o UpgradeOptions) (string, error) {
	root := filepath.Join(StateDir(o.StateDir), o.Name)
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return "", fmt.Errorf("VCH %q not found in %s: check the name with vic-machine ls", o.Name, StateDir(o.StateDir))
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	keep := filepath.Join(root, upgradeDir)
	if o.Rollback {
		return rollback(ctx, root, keep, o.Timeout)
	}
	old := versionOf(root)
	if old == o.Version && !o.Force {
		return "", fmt.Errorf("VCH %s already runs version %s: nothing to upgrade (use --force to restart it on these binaries anyway)", o.Name, old)
	}
	for _, p := range []string{o.VCHD, o.Tether} {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("missing binary %s: run make, or point --vchd/--tether at it", p)
		}
	}
	// What runs now: the live vchd's executable (even if its file was
	// replaced since), else the installation's.
	curVCHD := o.VCHD
	if pid := vchdPid(root); pid > 0 {
		curVCHD = fmt.Sprintf("/proc/%d/exe", pid)
	}
	tmp := keep + ".new"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return "", fmt.Errorf("keep the VCH for a rollback: %w", err)
	}
	for _, c := range [][2]string{{curVCHD, "vchd"}, {cfg.TetherPath, "tether"}, {vchconfig.Path(root), vchconfig.FileName}, {filepath.Join(root, "version"), "version"}} {
		if err := copyFile(c[0], filepath.Join(tmp, c[1])); err != nil {
			_ = os.RemoveAll(tmp)
			return "", fmt.Errorf("keep the VCH for a rollback: %w", err)
		}
	}
	_ = os.RemoveAll(keep)
	if err := os.Rename(tmp, keep); err != nil {
		return "", fmt.Errorf("keep the VCH for a rollback: %w", err)
	}
	next := *cfg
	next.TetherPath = o.Tether
	if err := next.Save(vchconfig.Path(root)); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(root, "version"), []byte(o.Version+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := restart(ctx, root, o.VCHD, &next, o.Timeout); err != nil {
		return "", fmt.Errorf("upgraded VCH did not come up (vic-machine upgrade --rollback --name %s goes back): %w", o.Name, err)
	}
	return o.Version, nil
}

// rollback restores what the last upgrade kept and runs the kept vchd.
// The kept files stay: the VCH now runs them.
func rollback(ctx context.Context, root, keep string, timeout time.Duration) (string, error) {
	if _, err := os.Stat(filepath.Join(keep, vchconfig.FileName)); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("VCH %s has no upgrade to roll back", filepath.Base(root))
	}
	prev, err := vchconfig.Load(filepath.Join(keep, vchconfig.FileName))
	if err != nil {
		return "", err
	}
	prev.TetherPath = filepath.Join(keep, "tether")
	cur, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return "", err
	}
	// Settings changed since the upgrade (configure) stay; the binaries
	// and the version go back.
	cur.TetherPath = prev.TetherPath
	if err := cur.Save(vchconfig.Path(root)); err != nil {
		return "", err
	}
	v, err := os.ReadFile(filepath.Join(keep, "version"))
	if err != nil {
		return "", fmt.Errorf("kept version: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(root, "version"), v, 0o644); err != nil {
		return "", err
	}
	if err := restart(ctx, root, filepath.Join(keep, "vchd"), cur, timeout); err != nil {
		return "", err
	}
	return strings.TrimSpace(string(v)), nil
}

// restart stops the VCH's supervisor and vchd and starts them on vchd.
func restart(ctx context.Context, root, vchd string, cfg *vchconfig.Config, timeout time.Duration) error {
	stopVCHD(root, 10*time.Second)
	if err := startVCHD(root, vchd, cfg.Debug); err != nil {
		return err
	}
	return waitReady(ctx, root, cfg, timeout)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm()|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// VCHDFor is the vchd a VCH runs on: the copy kept by its last upgrade
// when it was rolled back to that copy's version, else installed (the
// installation's vchd, of version installedVersion).
func VCHDFor(stateDir, name, installed, installedVersion string) string {
	root := filepath.Join(StateDir(stateDir), name)
	v := versionOf(root)
	if v == installedVersion {
		return installed
	}
	keep := filepath.Join(root, upgradeDir)
	kept, err := os.ReadFile(filepath.Join(keep, "version"))
	if err != nil || strings.TrimSpace(string(kept)) != v {
		return installed
	}
	if _, err := os.Stat(filepath.Join(keep, "vchd")); err != nil {
		return installed
	}
	return filepath.Join(keep, "vchd")
}
