package vsphere

import (
	"context"
	"fmt"
	"strings"

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

// planGrants lists the objects to give the ops user OpsRole on (besides
// the VCH's new pool): the datastores, port groups and the datacenter's VM
// folder (container VMs are made there), leaving out those where the user
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
	ents := []types.ManagedObjectReference{pool}
	for _, g := range p.cfg.Ops.Granted {
		ents = append(ents, parseRef(g))
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
