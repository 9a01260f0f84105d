package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// OpsRole is the role --ops-grant-perms gives the operations user. It is
// shared by the VCHs of a vCenter: made when missing, never removed by
// delete (another VCH may use it).
const OpsRole = "vch-ops"

// opsPrivileges are what the endpoint needs: container VMs in its pool,
// disks on its datastores, NICs on its port groups, its serial ports.
var opsPrivileges = []string{
	"Datastore.AllocateSpace", "Datastore.Browse", "Datastore.FileManagement",
	"Network.Assign",
	"Resource.AssignVMToPool", "Resource.EditPool",
	"VirtualMachine.Config.AddExistingDisk", "VirtualMachine.Config.AddNewDisk", "VirtualMachine.Config.AddRemoveDevice",
	"VirtualMachine.Config.AdvancedConfig", "VirtualMachine.Config.EditDevice", "VirtualMachine.Config.RemoveDisk",
	"VirtualMachine.Config.Rename", "VirtualMachine.Config.Settings",
	"VirtualMachine.Interact.DeviceConnection", "VirtualMachine.Interact.PowerOff", "VirtualMachine.Interact.PowerOn",
	"VirtualMachine.Inventory.Create", "VirtualMachine.Inventory.Delete", "VirtualMachine.Inventory.Register", "VirtualMachine.Inventory.Unregister",
	"VirtualMachine.State.CreateSnapshot", "VirtualMachine.State.RemoveSnapshot",
}

// opsEntities are where the ops user gets OpsRole: the VCH's pool
// (propagated to its VMs), its datastores and port groups, and the
// datacenter's VM folder (container VMs are created there).
func (s *Session) opsEntities(ctx context.Context, p *planned, pool types.ManagedObjectReference) ([]types.ManagedObjectReference, error) {
	seen := map[types.ManagedObjectReference]bool{}
	var out []types.ManagedObjectReference
	add := func(r types.ManagedObjectReference) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	add(pool)
	add(p.imageDS.Reference())
	for _, ds := range p.volumeDS {
		add(ds.Reference())
	}
	for _, r := range p.netRefs {
		add(r)
	}
	for _, r := range p.containerRefs {
		add(r)
	}
	folders, err := s.Datacenter.Folders(ctx)
	if err != nil {
		return nil, fmt.Errorf("folders of %s: %w", s.Datacenter.Name(), err)
	}
	add(folders.VmFolder.Reference())
	return out, nil
}

// grantOps makes OpsRole if missing and gives it to the ops user on the
// VCH's objects, pushing the undo of each change.
func (s *Session) grantOps(ctx context.Context, p *planned, pool types.ManagedObjectReference, u *undoStack) error {
	am := object.NewAuthorizationManager(s.Client)
	roles, err := am.RoleList(ctx)
	if err != nil {
		return fmt.Errorf("list roles: %w", err)
	}
	var roleID int32
	if r := roles.ByName(OpsRole); r != nil {
		roleID = r.RoleId
	} else {
		if _, err = am.AddRole(ctx, OpsRole, opsPrivileges); err != nil {
			return fmt.Errorf("add role %s: %w", OpsRole, err)
		}
		// Read the ID back by name (not every server returns it).
		roles, err = am.RoleList(ctx)
		if err != nil {
			return fmt.Errorf("list roles: %w", err)
		}
		r := roles.ByName(OpsRole)
		if r == nil {
			return fmt.Errorf("role %s missing after it was added", OpsRole)
		}
		roleID = r.RoleId
		id := roleID
		u.push("role "+OpsRole, func(ctx context.Context) error { return am.RemoveRole(ctx, id, false) })
	}
	ents, err := s.opsEntities(ctx, p, pool)
	if err != nil {
		return err
	}
	user := p.cfg.Ops.User
	for _, e := range ents {
		ent := e
		perm := types.Permission{Entity: &ent, Principal: user, RoleId: roleID, Propagate: e.Type == "ResourcePool"}
		if err := am.SetEntityPermissions(ctx, e, []types.Permission{perm}); err != nil {
			return fmt.Errorf("permission on %s: %w", e.Value, err)
		}
		u.push("permission of "+user+" on "+e.Value, func(ctx context.Context) error {
			return am.RemoveEntityPermission(ctx, ent, user, false)
		})
	}
	return nil
}
