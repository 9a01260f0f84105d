package vsphere

import (
	"context"
	"fmt"
	"path"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/vice"
)

// ConfigureOptions change an existing VCH; nil or empty fields stay.
type ConfigureOptions struct {
	CPU, Memory          *vice.Allocation
	AddVolumeStores      []string
	AddContainerNetworks []vice.ContainerNetwork
	OpsUser, OpsPassword *string
	Debug                *bool
}

// Configure validates the changes against the VCH, then makes new volume
// store folders, updates the pool and rewrites the endpoint VM's
// extraConfig; a failure undoes what it changed. It reports whether
// anything changed.
func (s *Session) Configure(ctx context.Context, v *VCH, o ConfigureOptions) (bool, error) {
	c := *v.Config
	changed := false
	if o.CPU != nil || o.Memory != nil {
		if o.CPU != nil {
			c.Resources.CPU = *o.CPU
		}
		if o.Memory != nil {
			c.Resources.Memory = *o.Memory
		}
		if err := s.checkNewReservations(ctx, v, c.Resources); err != nil {
			return false, err
		}
		changed = changed || c.Resources != v.Config.Resources
	}
	stores, err := ParseVolumeStores(o.AddVolumeStores)
	if err != nil {
		return false, err
	}
	p := &planned{volumeDS: map[string]*object.Datastore{}, volumeDirs: map[string]string{}}
	for _, vs := range stores {
		for _, old := range c.Storage.Volumes {
			if old.Label == vs.Label {
				return false, fmt.Errorf("--volume-store: VCH %s already has a store labelled %s", c.Name, vs.Label)
			}
		}
		ds, err := s.Datastore(ctx, vs.Datastore)
		if err != nil {
			return false, fmt.Errorf("--volume-store %s: %w", vs.Label, err)
		}
		p.volumeDS[vs.Label] = ds
		p.volumeDirs[vs.Label] = path.Join(vs.Path, "volumes")
	}
	c.Storage.Volumes = append(append([]vice.VolumeStore{}, c.Storage.Volumes...), stores...)
	for _, cn := range o.AddContainerNetworks {
		ref, err := s.Network(ctx, "--container-network", cn.PortGroup.Name)
		if err != nil {
			return false, err
		}
		if cn.PortGroup.Name == c.Network.Bridge.Name {
			return false, fmt.Errorf("--container-network %s is the bridge network: choose another port group", cn.PortGroup.Name)
		}
		for _, old := range c.Network.Containers {
			if old.Alias == cn.Alias || old.PortGroup.Name == cn.PortGroup.Name {
				return false, fmt.Errorf("--container-network %s:%s: VCH %s already has %s:%s", cn.PortGroup.Name, cn.Alias, c.Name, old.PortGroup.Name, old.Alias)
			}
		}
		cn.PortGroup.ID = ref.Reference().Value
		c.Network.Containers = append(append([]vice.ContainerNetwork{}, c.Network.Containers...), cn)
		changed = true
	}
	if o.OpsUser != nil && *o.OpsUser != c.Ops.User {
		if c.Ops.GrantPerms {
			return false, fmt.Errorf("--ops-user: VCH %s's permissions were granted to %s at create; delete and create it again to grant them to %s", c.Name, c.Ops.User, *o.OpsUser)
		}
		if o.OpsPassword == nil || *o.OpsPassword == "" {
			return false, fmt.Errorf("--ops-user %s needs --ops-password", *o.OpsUser)
		}
		c.Ops.User = *o.OpsUser
		changed = true
	}
	if o.OpsPassword != nil && *o.OpsPassword != c.Ops.Password {
		c.Ops.Password = *o.OpsPassword
		changed = true
	}
	if o.Debug != nil && *o.Debug != c.Debug {
		c.Debug = *o.Debug
		changed = true
	}
	if len(stores) > 0 {
		changed = true
		if err := s.planFolders(ctx, p); err != nil {
			return false, err
		}
		c.Storage.Made = append(append([]string{}, c.Storage.Made...), p.made()...)
	}
	if !changed {
		return false, nil
	}

	var u undoStack
	fail := func(err error) (bool, error) {
		if uerr := u.run(ctx, s.log); uerr != nil {
			return false, fmt.Errorf("%w (and the cleanup failed: %v)", err, uerr)
		}
		return false, err
	}
	if len(stores) > 0 {
		if err := s.mkdirs(ctx, p, &u); err != nil {
			return fail(fmt.Errorf("volume stores: %w", err))
		}
	}
	if c.Resources != v.Config.Resources {
		pool := object.NewResourcePool(s.Client, v.Pool)
		if err := pool.UpdateConfig(ctx, "", ptr(poolSpec(c.Resources))); err != nil {
			return fail(fmt.Errorf("update resource pool %s: %w", c.Pool, err))
		}
		old := poolSpec(v.Config.Resources)
		u.push("pool settings", func(ctx context.Context) error { return pool.UpdateConfig(ctx, "", &old) })
	}
	if err := s.writeConfig(ctx, v, &c); err != nil {
		return fail(err)
	}
	s.log.Info("VCH reconfigured", zap.String("vch", c.Name))
	v.Config = &c
	return true, nil
}

func ptr[T any](v T) *T { return &v }

// writeConfig rewrites the endpoint VM's guestinfo.vice keys with the
// VCH's own secret key.
func (s *Session) writeConfig(ctx context.Context, v *VCH, c *vice.Config) error {
	key := v.ExtraConfig[vice.KeyKey]
	kv, err := vice.Encode(c, key)
	if err != nil {
		return err
	}
	// Keys of list items that went away are emptied.
	for k := range v.ExtraConfig {
		if _, ok := kv[k]; !ok && len(k) > len(vice.Prefix) && k[:len(vice.Prefix)] == vice.Prefix {
			kv[k] = ""
		}
	}
	if err := waitTask(ctx, func(ctx context.Context) (*object.Task, error) {
		return v.VM.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: optionValues(kv)})
	}); err != nil {
		return fmt.Errorf("write config of VCH %s to %s: %w", c.Name, v.ID, err)
	}
	v.ExtraConfig = kv
	return nil
}

// checkNewReservations: the parent pool can give what the VCH asks for
// beyond what it holds now.
func (s *Session) checkNewReservations(ctx context.Context, v *VCH, r vice.Resources) error {
	var rp mo.ResourcePool
	if err := s.propertiesOf(ctx, v.Pool, []string{"parent"}, &rp); err != nil {
		return fmt.Errorf("parent of the pool of VCH %s: %w", v.Config.Name, err)
	}
	if rp.Parent == nil {
		return fmt.Errorf("the pool of VCH %s has no parent", v.Config.Name)
	}
	parent := object.NewResourcePool(s.Client, *rp.Parent)
	parent.InventoryPath = v.Path
	cpu, mem := r.CPU, r.Memory
	cpu.Reservation -= v.Config.Resources.CPU.Reservation
	mem.Reservation -= v.Config.Resources.Memory.Reservation
	if cpu.Reservation < 0 {
		cpu.Reservation = 0
	}
	if mem.Reservation < 0 {
		mem.Reservation = 0
	}
	for _, a := range []struct {
		what string
		a    vice.Allocation
	}{{"cpu", r.CPU}, {"memory", r.Memory}} {
		if err := checkShares(a.what, a.a.Shares); err != nil {
			return err
		}
		if a.a.Limit > 0 && a.a.Reservation > a.a.Limit {
			return fmt.Errorf("--%s-reservation %d is above the --%s limit %d", a.what, a.a.Reservation, a.what, a.a.Limit)
		}
	}
	return s.checkReservations(ctx, &Placement{Parent: parent}, cpu, mem)
}
