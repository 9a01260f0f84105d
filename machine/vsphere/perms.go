package vsphere

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/internal/vice"
)

// OpsRole is the role --ops-grant-perms gives the operations user. It is
// shared by the VCHs of a vCenter: made when missing, never removed by
// delete (another VCH may use it).
const OpsRole = "vch-ops"

// opsPrivileges are what the endpoint needs: container VMs in its pool
// (made, reconfigured — CPUs, memory, devices, extraConfig —, powered on,
// off and suspended for docker pause, destroyed), disks on its
// datastores, NICs on its port groups, port groups on the bridge's
// distributed switch for docker network create/rm, its serial ports, and
// cancelling a task that outlived the session's timeout. perms_test.go
// maps every vSphere method the port layer's providers call to the
// privilege the vSphere API reference requires for it.
var opsPrivileges = []string{
	"DVPortgroup.Create", "DVPortgroup.Delete",
	"Datastore.AllocateSpace", "Datastore.Browse", "Datastore.FileManagement",
	"Global.CancelTask",
	"Network.Assign",
	"Resource.AssignVMToPool", "Resource.EditPool",
	"VirtualMachine.Config.AddExistingDisk", "VirtualMachine.Config.AddNewDisk", "VirtualMachine.Config.AddRemoveDevice",
	"VirtualMachine.Config.AdvancedConfig", "VirtualMachine.Config.CPUCount", "VirtualMachine.Config.EditDevice",
	"VirtualMachine.Config.Memory", "VirtualMachine.Config.RemoveDisk",
	"VirtualMachine.Config.Rename", "VirtualMachine.Config.Settings",
	"VirtualMachine.Interact.DeviceConnection", "VirtualMachine.Interact.PowerOff", "VirtualMachine.Interact.PowerOn",
	"VirtualMachine.Interact.Suspend",
	"VirtualMachine.Inventory.Create", "VirtualMachine.Inventory.Delete", "VirtualMachine.Inventory.Register", "VirtualMachine.Inventory.Unregister",
	"VirtualMachine.State.CreateSnapshot", "VirtualMachine.State.RemoveSnapshot",
}

// planGrants lists the objects to give the ops user OpsRole on (besides
// the VCH's new pool): the datastores, port groups, the bridge's
// distributed switch (docker network create makes port groups there,
// which inherit the grant: it propagates) and the datacenter's VM folder
// (container VMs are made there), leaving out those where the user
// already has a permission of its own (another role), which vic-machine
// must not replace or, at delete, take away.
func (s *Session) planGrants(ctx context.Context, p *planned, user string) ([]string, error) {
	var refs []types.ManagedObjectReference
	seen := map[types.ManagedObjectReference]bool{}
	add := func(r types.ManagedObjectReference) {
		if !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	add(p.imageDS.Reference())
	for _, l := range p.sortedLabels() {
		add(p.volumeDS[l].Reference())
	}
	for _, n := range p.nets {
		add(n.Reference())
	}
	for _, r := range p.containerRefs {
		add(r)
	}
	if p.bridge.Type == "DistributedVirtualPortgroup" {
		var pg mo.DistributedVirtualPortgroup
		if err := s.propertiesOf(ctx, p.bridge, []string{"config.distributedVirtualSwitch"}, &pg); err != nil {
			return nil, fmt.Errorf("switch of the bridge port group %s: %w", p.bridge.Value, err)
		}
		if pg.Config.DistributedVirtualSwitch != nil {
			add(*pg.Config.DistributedVirtualSwitch)
		}
	}
	folders, err := s.Datacenter.Folders(ctx)
	if err != nil {
		return nil, fmt.Errorf("folders of %s: %w", s.Datacenter.Name(), err)
	}
	add(folders.VmFolder.Reference())
	am := object.NewAuthorizationManager(s.Client)
	roles, err := am.RoleList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	opsID := int32(-1 << 20)
	if r := roles.ByName(OpsRole); r != nil {
		opsID = r.RoleId
	}
	var out []string
	for _, r := range refs {
		perms, err := am.RetrieveEntityPermissions(ctx, r, false)
		if err != nil {
			return nil, fmt.Errorf("permissions on %s: %w", r.Value, err)
		}
		has := false
		for _, pm := range perms {
			// OpsRole there is another VCH's grant: shared, not the user's own.
			if pm.Principal == user && !pm.Group && pm.RoleId != opsID {
				has = true
			}
		}
		if !has {
			out = append(out, r.Type+":"+r.Value)
		}
	}
	return out, nil
}

func parseRef(s string) types.ManagedObjectReference {
	t, v, _ := strings.Cut(s, ":")
	return types.ManagedObjectReference{Type: t, Value: v}
}

// grantOps makes OpsRole if missing and gives it to the ops user on the
// VCH's pool and the planned objects, pushing the undo of each change.
func (s *Session) grantOps(ctx context.Context, p *planned, pool types.ManagedObjectReference, u *undoStack) error {
	am := object.NewAuthorizationManager(s.Client)
	roleID, err := ensureOpsRole(ctx, am, u)
	if err != nil {
		return err
	}
	ents := []types.ManagedObjectReference{pool}
	for _, g := range p.cfg.Ops.Granted {
		ents = append(ents, parseRef(g))
	}
	user := p.cfg.Ops.User
	for _, e := range ents {
		ent := e
		perm := types.Permission{Entity: &ent, Principal: user, RoleId: roleID, Propagate: propagates(e.Type)}
		if err := am.SetEntityPermissions(ctx, e, []types.Permission{perm}); err != nil {
			return fmt.Errorf("permission on %s: %w", e.Value, err)
		}
		u.push("permission of "+user+" on "+e.Value, func(ctx context.Context) error {
			return am.RemoveEntityPermission(ctx, ent, user, false)
		})
	}
	return nil
}

// ensureOpsRole makes OpsRole if it is missing, or adds to it the
// opsPrivileges it lacks (a role an older vic-machine made; none is taken
// away), pushing the undo of the change; it returns the role's ID.
func ensureOpsRole(ctx context.Context, am *object.AuthorizationManager, u *undoStack) (int32, error) {
	roles, err := am.RoleList(ctx)
	if err != nil {
		return 0, fmt.Errorf("list roles: %w", err)
	}
	if r := roles.ByName(OpsRole); r != nil {
		if missing := missingPrivileges(r.Privilege); len(missing) > 0 {
			old := append([]string(nil), r.Privilege...)
			if err := am.UpdateRole(ctx, r.RoleId, r.Name, append(old[:len(old):len(old)], missing...)); err != nil {
				return 0, fmt.Errorf("add privileges %s to role %s: %w", strings.Join(missing, ", "), OpsRole, err)
			}
			id, name := r.RoleId, r.Name
			u.push("privileges of role "+OpsRole, func(ctx context.Context) error { return am.UpdateRole(ctx, id, name, old) })
		}
		return r.RoleId, nil
	}
	if _, err = am.AddRole(ctx, OpsRole, opsPrivileges); err != nil {
		return 0, fmt.Errorf("add role %s: %w", OpsRole, err)
	}
	// Read the ID back by name (not every server returns it).
	roles, err = am.RoleList(ctx)
	if err != nil {
		return 0, fmt.Errorf("list roles: %w", err)
	}
	r := roles.ByName(OpsRole)
	if r == nil {
		return 0, fmt.Errorf("role %s missing after it was added", OpsRole)
	}
	id := r.RoleId
	u.push("role "+OpsRole, func(ctx context.Context) error { return am.RemoveRole(ctx, id, false) })
	return id, nil
}

// upgradeOpsGrants brings the grants of a VCH made with --ops-grant-perms
// (possibly by an older vic-machine) up to what create gives now: OpsRole
// gains the privileges it lacks (none is taken away), and the ops user
// gets OpsRole, propagating, on the bridge's distributed switch (unless
// the user has a permission of its own there, as planGrants leaves out),
// recorded in c.Ops.Granted so delete takes it back. The undo of each
// change goes on u.
func (s *Session) upgradeOpsGrants(ctx context.Context, c *vice.Config, u *undoStack) error {
	am := object.NewAuthorizationManager(s.Client)
	roleID, err := ensureOpsRole(ctx, am, u)
	if err != nil {
		return err
	}
	// A distributed port group's ID is "dvportgroup-N"; a standard port
	// group (an ESXi target) has no switch to grant.
	if !strings.HasPrefix(c.Network.Bridge.ID, "dvportgroup-") {
		return nil
	}
	bridge := types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: c.Network.Bridge.ID}
	var pg mo.DistributedVirtualPortgroup
	if err := s.propertiesOf(ctx, bridge, []string{"config.distributedVirtualSwitch"}, &pg); err != nil {
		return fmt.Errorf("switch of the bridge port group %s: %w", bridge.Value, err)
	}
	if pg.Config.DistributedVirtualSwitch == nil {
		return nil
	}
	dvs := *pg.Config.DistributedVirtualSwitch
	perms, err := am.RetrieveEntityPermissions(ctx, dvs, false)
	if err != nil {
		return fmt.Errorf("permissions on %s: %w", dvs.Value, err)
	}
	user := c.Ops.User
	has := false
	for _, pm := range perms {
		if pm.Principal != user || pm.Group {
			continue
		}
		if pm.RoleId != roleID {
			return nil // the user's own permission: not replaced, not recorded
		}
		has = true // this VCH's grant, or another VCH's (shared)
	}
	if !has {
		perm := types.Permission{Entity: &dvs, Principal: user, RoleId: roleID, Propagate: true}
		if err := am.SetEntityPermissions(ctx, dvs, []types.Permission{perm}); err != nil {
			return fmt.Errorf("permission on %s: %w", dvs.Value, err)
		}
		u.push("permission of "+user+" on "+dvs.Value, func(ctx context.Context) error {
			return am.RemoveEntityPermission(ctx, dvs, user, false)
		})
	}
	if key := dvs.Type + ":" + dvs.Value; !slices.Contains(c.Ops.Granted, key) {
		c.Ops.Granted = append(slices.Clone(c.Ops.Granted), key)
	}
	return nil
}

// propagates tells whether OpsRole on an object of type t goes down to
// its children: a pool's to the VMs made in it, a distributed switch's
// to the port groups docker network create makes on it.
func propagates(t string) bool {
	switch t {
	case "ResourcePool", "DistributedVirtualSwitch", "VmwareDistributedVirtualSwitch":
		return true
	}
	return false
}

// missingPrivileges are the opsPrivileges that have lacks.
func missingPrivileges(have []string) []string {
	got := map[string]bool{}
	for _, p := range have {
		got[p] = true
	}
	var out []string
	for _, p := range opsPrivileges {
		if !got[p] {
			out = append(out, p)
		}
	}
	return out
}
