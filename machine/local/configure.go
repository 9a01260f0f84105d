package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vchproject/vch/backends/syslog"
	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/machine/vchconfig"
)

// ConfigureOptions change an existing VCH. A nil or empty field keeps
// what the VCH has; a given registry list replaces the VCH's list (as
// VIC's configure did: name the ones to keep too).
type ConfigureOptions struct {
	Name     string
	StateDir string
	VCHD     string // vchd binary to restart with
	Debug    *bool
	// Insecure, Whitelist and Mirrors replace the registry settings of
	// the same name when non-nil; ClearRegistryCA drops the trusted CAs,
	// RegistryCAs (PEM files) replace them.
	Insecure, Whitelist, Mirrors []string
	RegistryCAs                  []string
	ClearRegistryCA              bool
	// VolumeStores are added; a label the VCH has must keep its path.
	VolumeStores []vchconfig.VolumeStore
	// SetLimits, when non-nil, changes the VCH-wide limits: it edits a
	// copy of the VCH's current ones.
	SetLimits func(*vchconfig.Limits)
	// SyslogAddress, when non-nil, replaces the syslog address ("":
	// forward nothing).
	SyslogAddress *string
	// ContainerNetworks are added, or replace the VCH's network of the
	// same alias.
	ContainerNetworks []vchconfig.ContainerNetwork
	// BindAllow replaces the directories bind mounts may come from when
	// non-nil (empty: none).
	BindAllow []string
	// TCGTBSizeClonesMB, when non-nil, replaces the translation cache
	// size of template clones (0: the default); clones started after the
	// restart use it, running ones keep theirs.
	TCGTBSizeClonesMB *int
	// Templates, when non-nil, turns template clones on or off; starts
	// after the restart follow it, running containers are not touched.
	Templates *bool
	Timeout   time.Duration
}

// Configure validates o against the VCH's config, writes the new config,
// and restarts vchd on it. The container VMs keep running through the
// restart (vchd detaches from them and re-attaches). Nothing changes when
// validation fails.
func Configure(ctx context.Context, o ConfigureOptions) (changed bool, err error) {
	root := filepath.Join(StateDir(o.StateDir), o.Name)
	cfg, err := vchconfig.Load(vchconfig.Path(root))
	if err != nil {
		return false, fmt.Errorf("VCH %q not found in %s: %w", o.Name, StateDir(o.StateDir), err)
	}
	next := *cfg
	next.Registry = cfg.Registry
	next.VolumeStores = slices.Clone(cfg.VolumeStores)
	if o.Debug != nil {
		next.Debug = *o.Debug
	}
	if o.Insecure != nil {
		next.Registry.Insecure = o.Insecure
	}
	if o.Whitelist != nil {
		next.Registry.Whitelist = o.Whitelist
	}
	if o.Mirrors != nil {
		next.Registry.Mirrors = o.Mirrors
	}
	if o.BindAllow != nil {
		if next.BindAllow, err = CheckBindAllow(o.BindAllow); err != nil {
			return false, err
		}
	}
	caPEM, err := vchconfig.ValidateRegistry(next.Registry, o.RegistryCAs)
	if err != nil {
		return false, err
	}
	if o.SetLimits != nil {
		o.SetLimits(&next.Limits)
		if next.Limits != cfg.Limits {
			if err := validateLimits(next.Limits, next.MemoryMB); err != nil {
				return false, err
			}
			if err := checkLimitsInUse(cfg, next.Limits); err != nil {
				return false, err
			}
		}
	}
	if o.TCGTBSizeClonesMB != nil {
		if err := validateTBSize("--tcg-tb-size-clones", *o.TCGTBSizeClonesMB); err != nil {
			return false, err
		}
		next.TCGTBSizeClonesMB = *o.TCGTBSizeClonesMB
	}
	if o.Templates != nil {
		next.Templates = new(*o.Templates)
	}
	if o.SyslogAddress != nil {
		if *o.SyslogAddress != "" {
			if _, _, err := syslog.ParseAddress(*o.SyslogAddress); err != nil {
				return false, err
			}
		}
		next.SyslogAddress = *o.SyslogAddress
	}
	next.ContainerNetworks = slices.Clone(cfg.ContainerNetworks)
	for _, n := range o.ContainerNetworks {
		if i := slices.IndexFunc(next.ContainerNetworks, func(x vchconfig.ContainerNetwork) bool { return x.Alias == n.Alias }); i >= 0 {
			next.ContainerNetworks[i] = n
		} else {
			next.ContainerNetworks = append(next.ContainerNetworks, n)
		}
	}
	if err := checkContainerNetworks(next.ContainerNetworks, next.BridgeNetworkRange); err != nil {
		return false, err
	}
	var newStores []vchconfig.VolumeStore
	for _, s := range o.VolumeStores {
		i := slices.IndexFunc(next.VolumeStores, func(x vchconfig.VolumeStore) bool { return x.Label == s.Label })
		switch {
		case i >= 0 && filepath.Clean(next.VolumeStores[i].Path) == filepath.Clean(s.Path):
			// already there
		case i >= 0:
			return false, fmt.Errorf("volume store %q is at %s: a store's path cannot change", s.Label, next.VolumeStores[i].Path)
		default:
			newStores = append(newStores, s)
		}
	}
	if len(newStores) > 0 {
		all, err := checkVolumeStores(append(slices.Clone(next.VolumeStores), newStores...))
		if err != nil {
			return false, err
		}
		next.VolumeStores = all
	}

	caFile := filepath.Join(root, "registry-ca.pem")
	switch {
	case len(caPEM) > 0:
		next.Registry.CAFile = caFile
		next.RegistryCAFiles = o.RegistryCAs
	case o.ClearRegistryCA:
		next.Registry.CAFile = ""
		next.RegistryCAFiles = nil
	}
	oldCA, _ := os.ReadFile(caFile)
	caChanged := (len(caPEM) > 0 && string(caPEM) != string(oldCA)) || next.Registry.CAFile != cfg.Registry.CAFile
	if !caChanged && sameConfig(cfg, &next) {
		return false, nil
	}
	if len(newStores) > 0 {
		if _, err := prepareVolumeStores(root, newStores); err != nil {
			return false, err
		}
	}
	if len(caPEM) > 0 {
		if err := atomicfile.WriteFile(caFile, caPEM, 0o644); err != nil {
			return false, fmt.Errorf("registry CA: %w", err)
		}
	}
	if err := next.Save(vchconfig.Path(root)); err != nil {
		return false, err
	}
	if next.Registry.CAFile == "" {
		_ = os.Remove(caFile)
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	stopVCHD(root, 10*time.Second)
	if err := startVCHD(root, o.VCHD, next.Debug); err != nil {
		return true, err
	}
	return true, waitReady(ctx, root, &next, o.Timeout)
}

// checkVolumeStores is prepareVolumeStores' validation without making
// anything: labels and paths unique.
func checkVolumeStores(stores []vchconfig.VolumeStore) ([]vchconfig.VolumeStore, error) {
	labels, paths := map[string]bool{}, map[string]string{}
	for _, s := range stores {
		if labels[s.Label] {
			return nil, fmt.Errorf("volume store label %q is given twice", s.Label)
		}
		labels[s.Label] = true
		p := filepath.Clean(s.Path)
		if other, ok := paths[p]; ok {
			return nil, fmt.Errorf("volume stores %q and %q share the path %s", other, s.Label, s.Path)
		}
		paths[p] = s.Label
	}
	return stores, nil
}

func sameConfig(a, b *vchconfig.Config) bool {
	return a.Debug == b.Debug && a.Limits == b.Limits && a.SyslogAddress == b.SyslogAddress &&
		a.TCGTBSizeClonesMB == b.TCGTBSizeClonesMB && a.TemplatesOn() == b.TemplatesOn() &&
		slices.Equal(a.Registry.Insecure, b.Registry.Insecure) &&
		slices.Equal(a.Registry.Whitelist, b.Registry.Whitelist) &&
		slices.Equal(a.Registry.Mirrors, b.Registry.Mirrors) &&
		a.Registry.CAFile == b.Registry.CAFile &&
		slices.Equal(a.VolumeStores, b.VolumeStores) &&
		slices.EqualFunc(a.ContainerNetworks, b.ContainerNetworks, func(x, y vchconfig.ContainerNetwork) bool {
			return x.Bridge == y.Bridge && x.Alias == y.Alias && x.IPRange == y.IPRange && x.Gateway == y.Gateway &&
				x.IPRange6 == y.IPRange6 && x.Gateway6 == y.Gateway6 &&
				x.Firewall == y.Firewall && slices.Equal(x.DNS, y.DNS)
		}) &&
		slices.Equal(a.BindAllow, b.BindAllow)
}
