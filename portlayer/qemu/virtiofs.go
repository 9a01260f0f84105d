package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// DefaultVirtioFSD is the virtiofsd that Debian's QEMU 7.2 ships (package
// qemu-system-common).
const DefaultVirtioFSD = "/usr/lib/qemu/virtiofsd"

// shareSocketWait bounds how long a virtiofsd may take to listen.
const shareSocketWait = 30 * time.Second

// startShares launches one virtiofsd per share of b, detached from vchd
// like QEMU, and waits until each listens on its socket. Each serves one
// VM: it exits when that QEMU disconnects, and is killed when the VM's
// process ends (reapShares) or the start fails (undo). The daemon's
// namespace sandbox (pivot_root into the directory) keeps a guest from
// reaching host paths outside it, symlinks included.
func (b *Boot) startShares(ctx context.Context) error {
	for i := range b.shares {
		s := &b.shares[i]
		sock := filepath.Join(b.v.dir, s.Socket)
		if err := removeIfExists(sock); err != nil {
			return err
		}
		base := strings.TrimSuffix(s.Socket, ".sock")
		out := base + ".out"
		if s.served == "" {
			s.served = s.Dir
			if s.ReadOnly {
				ro, err := roBind(s.Dir, filepath.Join(b.v.dir, base+".ro"))
				if err != nil {
					s.served = ""
					return fmt.Errorf("container %s: %w", b.v.id, err)
				}
				b.roBinds = append(b.roBinds, ro)
				b.PushUndo(func() error { return unbind(ro) })
				s.served = ro
			}
		}
		proc, err := execRunner{}.Start(ProcessSpec{
			Path: b.p.cfg.VirtioFSD,
			Args: []string{
				"--socket-path=" + s.Socket,
				"-o", "source=" + s.served,
				"-o", "cache=auto",
				"-o", "sandbox=namespace",
				"-o", "log_level=warn",
			},
			Dir:    b.v.dir,
			Output: filepath.Join(b.v.dir, out),
		})
		if err != nil {
			return fmt.Errorf("container %s: virtiofsd for %s: %w", b.v.id, s.Dir, err)
		}
		b.daemons = append(b.daemons, proc)
		b.PushUndo(func() error {
			err := proc.Kill()
			proc.Wait()
			return err
		})
		if err := awaitSocket(ctx, sock, proc); err != nil {
			msg, _ := os.ReadFile(filepath.Join(b.v.dir, out))
			return fmt.Errorf("container %s: virtiofsd for %s: %w: %s", b.v.id, s.Dir, err, strings.TrimSpace(string(msg)))
		}
	}
	return nil
}

// restartShares replaces b's virtiofsds with fresh ones: each serves one
// QEMU connection, so after a QEMU that connected to them is gone (a
// template clone that failed to restore) the next launch needs new ones.
func (b *Boot) restartShares(ctx context.Context) error {
	for _, d := range b.daemons {
		_ = d.Kill()
		d.Wait()
	}
	b.daemons = nil
	return b.startShares(ctx)
}

// reapShares kills b's virtiofsds once vmProc has ended (normally they
// are gone by then: QEMU's disconnect ends them).
func (b *Boot) reapShares(vmProc Process) {
	if len(b.daemons) == 0 {
		return
	}
	daemons, binds := b.daemons, b.roBinds
	log := b.log
	go func() {
		vmProc.Wait()
		for _, d := range daemons {
			if err := d.Kill(); err != nil {
				log.Warn("virtiofsd kill", zap.Error(err))
			}
			d.Wait()
		}
		for _, r := range binds {
			if err := unbind(r); err != nil {
				log.Warn("read-only bind", zap.Error(err))
			}
		}
	}()
}

// roBind makes a read-only bind mount of dir at at (not recursive: mounts
// below dir stay out of it).
func roBind(dir, at string) (string, error) {
	if err := os.MkdirAll(at, 0o700); err != nil {
		return "", fmt.Errorf("read-only view of %s: %w", dir, err)
	}
	if err := unix.Mount(dir, at, "", unix.MS_BIND, ""); err != nil {
		return "", fmt.Errorf("read-only view of %s: %w", dir, err)
	}
	if err := unix.Mount("", at, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		_ = unix.Unmount(at, unix.MNT_DETACH)
		return "", fmt.Errorf("read-only view of %s: %w", dir, err)
	}
	return at, nil
}

// unbind detaches a roBind mount and removes its mount point.
func unbind(at string) error {
	if err := unix.Unmount(at, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount %s: %w", at, err)
	}
	if err := os.Remove(at); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// awaitSocket waits until path exists as a socket or proc ends.
func awaitSocket(ctx context.Context, path string, proc Process) error {
	ctx, cancel := context.WithTimeout(ctx, shareSocketWait)
	defer cancel()
	exited := make(chan struct{})
	go func() {
		proc.Wait()
		close(exited)
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before listening")
		case <-ctx.Done():
			return fmt.Errorf("no socket %s: %w", path, ctx.Err())
		case <-tick.C:
		}
	}
}
