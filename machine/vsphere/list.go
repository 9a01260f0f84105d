package vsphere

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/internal/vice"
)

// VCH is one VCH found on the target.
type VCH struct {
	ID         string // endpoint VM's reference value, vm-212
	Path       string // inventory path of the pool the VCH's pool is in
	Config     *vice.Config
	VM         *object.VirtualMachine
	Pool       types.ManagedObjectReference // the VCH's own pool
	PowerState types.VirtualMachinePowerState
	// ExtraConfig is the VM's raw keys.
	ExtraConfig map[string]string
	// Err is set when the VM has a VCH's keys that do not decode.
	Err error
}

// Name of the VCH (its endpoint VM's configured name).
func (v *VCH) Name() string {
	if v.Config != nil {
		return v.Config.Name
	}
	return v.ExtraConfig[vice.Prefix+"name"]
}

// List finds the datacenter's VCHs by their endpoint VMs' extraConfig,
// sorted by name.
func (s *Session) List(ctx context.Context) ([]*VCH, error) {
	m := view.NewManager(s.Client)
	cv, err := m.CreateContainerView(ctx, s.Datacenter.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, fmt.Errorf("list VMs of %s: %w", s.Datacenter.Name(), err)
	}
	defer func() { _ = cv.Destroy(context.WithoutCancel(ctx)) }()
	var vms []mo.VirtualMachine
	if err := cv.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.extraConfig", "resourcePool", "runtime.powerState"}, &vms); err != nil {
		return nil, fmt.Errorf("list VMs of %s: %w", s.Datacenter.Name(), err)
	}
	var out []*VCH
	for _, vm := range vms {
		if vm.Config == nil {
			continue
		}
		kv := extraConfigMap(vm.Config.ExtraConfig)
		if !vice.IsVCH(kv) {
			continue
		}
		v := &VCH{ID: vm.Self.Value, VM: object.NewVirtualMachine(s.Client, vm.Self), PowerState: vm.Runtime.PowerState, ExtraConfig: kv}
		v.VM.InventoryPath = vm.Name
		v.Config, v.Err = vice.Decode(kv)
		if vm.ResourcePool != nil {
			v.Pool = *vm.ResourcePool
			v.Path = s.parentPath(ctx, v.Pool)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// parentPath is the inventory path of pool's parent ("" if unknown).
func (s *Session) parentPath(ctx context.Context, pool types.ManagedObjectReference) string {
	var rp mo.ResourcePool
	if err := s.propertiesOf(ctx, pool, []string{"parent"}, &rp); err != nil || rp.Parent == nil {
		return ""
	}
	p, err := find.InventoryPath(ctx, s.Client, *rp.Parent)
	if err != nil {
		return ""
	}
	return p
}

// Find returns the VCH called name (and with id, if id is not "").
func (s *Session) Find(ctx context.Context, name, id string) (*VCH, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	var hits []*VCH
	for _, v := range all {
		names = append(names, v.Name())
		if (name == "" || v.Name() == name) && (id == "" || v.ID == id) {
			hits = append(hits, v)
		}
	}
	switch {
	case len(hits) == 1:
		if hits[0].Err != nil {
			return nil, fmt.Errorf("VCH %s (%s): %w", hits[0].Name(), hits[0].ID, hits[0].Err)
		}
		return hits[0], nil
	case len(hits) > 1:
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.ID)
		}
		return nil, fmt.Errorf("%d VCHs are called %s (%s): choose one with --id", len(hits), name, strings.Join(ids, ", "))
	}
	known := "there are none"
	if len(names) > 0 {
		known = "there are " + strings.Join(names, ", ")
	}
	if id != "" {
		return nil, fmt.Errorf("no VCH %s with --id %s in %s: %s", name, id, s.Datacenter.Name(), known)
	}
	return nil, fmt.Errorf("no VCH %s in %s: %s", name, s.Datacenter.Name(), known)
}

func extraConfigMap(opts []types.BaseOptionValue) map[string]string {
	kv := make(map[string]string, len(opts))
	for _, o := range opts {
		ov := o.GetOptionValue()
		if s, ok := ov.Value.(string); ok {
			kv[ov.Key] = s
		}
	}
	return kv
}

// poolChildVMs lists the VMs in pool other than except (container VMs).
func (s *Session) poolChildVMs(ctx context.Context, pool types.ManagedObjectReference, except types.ManagedObjectReference) ([]mo.VirtualMachine, error) {
	var rp mo.ResourcePool
	if err := s.propertiesOf(ctx, pool, []string{"vm"}, &rp); err != nil {
		return nil, fmt.Errorf("VMs of pool %s: %w", pool.Value, err)
	}
	var refs []types.ManagedObjectReference
	for _, r := range rp.Vm {
		if r != except {
			refs = append(refs, r)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	var vms []mo.VirtualMachine
	pc := s.propertyCollector()
	if err := pc.Retrieve(ctx, refs, []string{"name", "runtime.powerState"}, &vms); err != nil {
		return nil, fmt.Errorf("VMs of pool %s: %w", pool.Value, err)
	}
	sort.Slice(vms, func(i, j int) bool { return vms[i].Name < vms[j].Name })
	return vms, nil
}
