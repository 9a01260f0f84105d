package vsphere

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	vim "github.com/vmware/govmomi/vim25/types"
)

// providerCall is a govmomi call of the port layer's vSphere providers
// (portlayer/vsphere/...), the vSphere API method it makes and the
// privileges the vSphere API reference requires for it as the providers
// use it (the ops user makes these calls). A call with several uses (a
// Reconfigure of extraConfig, of CPUs, of a NIC) has a row per use.
type providerCall struct {
	call, method string
	privs        []string
}

// providerCalls: every govmomi call of the providers that reaches vSphere.
// System.Anonymous, System.View and System.Read are in every role (vSphere
// adds them).
var providerCalls = []providerCall{
	// Lookups and property reads (PropertyCollector, container views).
	{"find.Finder.Datacenter", "RetrievePropertiesEx, CreateContainerView", []string{"System.View", "System.Read"}},
	{"find.Finder.Datastore", "RetrievePropertiesEx, CreateContainerView", []string{"System.View", "System.Read"}},
	{"find.Finder.Folder", "RetrievePropertiesEx, CreateContainerView", []string{"System.View", "System.Read"}},
	{"find.Finder.Network", "RetrievePropertiesEx, CreateContainerView", []string{"System.View", "System.Read"}},
	{"find.Finder.ResourcePool", "RetrievePropertiesEx, CreateContainerView", []string{"System.View", "System.Read"}},
	{"find.Finder.VirtualMachine", "RetrievePropertiesEx, CreateContainerView", []string{"System.View", "System.Read"}},
	{"object.Datacenter.Folders", "RetrievePropertiesEx", []string{"System.Read"}},
	{"object.Common.Properties", "RetrievePropertiesEx", []string{"System.Read"}},
	{"object.Datastore.Browser", "RetrievePropertiesEx (browser)", []string{"System.Read"}},
	{"object.NetworkReference.EthernetCardBackingInfo", "RetrievePropertiesEx (port group's switch)", []string{"System.Read"}},
	{"object.VirtualMachine.Device", "RetrievePropertiesEx (config.hardware.device)", []string{"System.Read"}},
	{"property.Collector.RetrieveOne", "RetrievePropertiesEx", []string{"System.Read"}},
	{"property.Wait", "CreateFilter, WaitForUpdatesEx", []string{"System.View", "System.Read"}},
	{"object.Task.Wait", "CreateFilter, WaitForUpdatesEx (task info)", []string{"System.View", "System.Read"}},
	{"object.Task.WaitForResult", "CreateFilter, WaitForUpdatesEx (task info)", []string{"System.View", "System.Read"}},
	{"view.Manager.CreateContainerView", "CreateContainerView", []string{"System.View"}},
	{"view.ContainerView.Retrieve", "RetrievePropertiesEx", []string{"System.Read"}},
	{"view.ManagedObjectView.Destroy", "DestroyView", []string{"System.View"}},
	// Session.
	{"vim25.NewClient", "RetrieveServiceContent", []string{"System.Anonymous"}},
	{"session.Manager.Login", "Login", []string{"System.Anonymous"}},
	{"session.Manager.Logout", "Logout", []string{"System.Anonymous"}},
	{"object.Task.Cancel", "CancelTask (a task that outlived the session's timeout)", []string{"Global.CancelTask"}},
	// Container VMs.
	{"object.Folder.CreateVM", "CreateVM_Task (on the VM folder)", []string{"VirtualMachine.Inventory.Create"}},
	{"object.Folder.CreateVM", "CreateVM_Task (in the VCH's pool)", []string{"Resource.AssignVMToPool"}},
	{"object.Folder.CreateVM", "CreateVM_Task (files on the datastore)", []string{"Datastore.AllocateSpace"}},
	{"object.Folder.CreateVM", "CreateVM_Task (a new writable-layer disk)", []string{"VirtualMachine.Config.AddNewDisk"}},
	{"object.Folder.CreateVM", "CreateVM_Task (volumes' existing disks)", []string{"VirtualMachine.Config.AddExistingDisk"}},
	{"object.VirtualMachine.Reconfigure", "ReconfigVM_Task (extraConfig: the container's record)", []string{"VirtualMachine.Config.AdvancedConfig"}},
	{"object.VirtualMachine.Reconfigure", "ReconfigVM_Task (numCPUs: start, docker update)", []string{"VirtualMachine.Config.CPUCount"}},
	{"object.VirtualMachine.Reconfigure", "ReconfigVM_Task (memoryMB: start, docker update)", []string{"VirtualMachine.Config.Memory"}},
	{"object.VirtualMachine.Reconfigure", "ReconfigVM_Task (a NIC added or removed)", []string{"VirtualMachine.Config.AddRemoveDevice", "Network.Assign"}},
	{"object.VirtualMachine.Reconfigure", "ReconfigVM_Task (a new disk on the endpoint: layer writes)", []string{"VirtualMachine.Config.AddNewDisk", "Datastore.AllocateSpace"}},
	{"object.VirtualMachine.Reconfigure", "ReconfigVM_Task (a disk removed: layer writes, volumes let go)", []string{"VirtualMachine.Config.RemoveDisk"}},
	{"object.VirtualMachine.PowerOn", "PowerOnVM_Task", []string{"VirtualMachine.Interact.PowerOn"}},
	{"object.VirtualMachine.PowerOff", "PowerOffVM_Task", []string{"VirtualMachine.Interact.PowerOff"}},
	{"object.VirtualMachine.Suspend", "SuspendVM_Task (docker pause)", []string{"VirtualMachine.Interact.Suspend"}},
	{"object.VirtualMachine.Destroy", "Destroy_Task (a container VM)", []string{"VirtualMachine.Inventory.Delete"}},
	// User-defined networks.
	{"object.DistributedVirtualSwitch.AddPortgroup", "AddDVPortgroup_Task (on the bridge's switch)", []string{"DVPortgroup.Create"}},
	{"object.Common.Destroy", "Destroy_Task (a port group docker network create made)", []string{"DVPortgroup.Delete"}},
	// Datastore files: images, volumes, the network book.
	{"object.Datastore.Stat", "SearchDatastore_Task", []string{"Datastore.Browse"}},
	{"object.HostDatastoreBrowser.SearchDatastore", "SearchDatastore_Task", []string{"Datastore.Browse"}},
	{"object.Datastore.Download", "HTTP GET /folder", []string{"Datastore.Browse"}},
	{"object.Datastore.Upload", "HTTP PUT /folder", []string{"Datastore.FileManagement"}},
	{"object.FileManager.MakeDirectory", "MakeDirectory", []string{"Datastore.FileManagement"}},
	{"object.FileManager.DeleteDatastoreFile", "DeleteDatastoreFile_Task", []string{"Datastore.FileManagement"}},
	{"object.DatastoreFileManager.DeleteFile", "DeleteDatastoreFile_Task", []string{"Datastore.FileManagement"}},
	{"object.DatastoreFileManager.DeleteVirtualDisk", "DeleteVirtualDisk_Task", []string{"Datastore.FileManagement"}},
	{"object.VirtualDiskManager.CreateVirtualDisk", "CreateVirtualDisk_Task", []string{"Datastore.FileManagement"}},
	{"object.VirtualDiskManager.DeleteVirtualDisk", "DeleteVirtualDisk_Task", []string{"Datastore.FileManagement"}},
}

// localCalls are govmomi functions the providers call that do not reach
// vSphere (constructors, device-list and path helpers, accessors).
var localCalls = map[string]bool{
	"fault.In": true, "find.NewFinder": true, "find.Finder.SetDatacenter": true,
	"object.NewDistributedVirtualSwitch": true, "object.NewFileManager": true, "object.NewVirtualDiskManager": true,
	"object.NewVirtualMachine": true, "object.Common.Reference": true, "object.Reference.Reference": true,
	"object.Datastore.NewFileManager": true, "object.Datastore.Path": true, "object.DatastorePath.FromString": true,
	"property.DefaultCollector": true, "session.NewManager": true, "view.NewManager": true,
	"soap.NewClient": true, "soap.ParseURL": true, "soap.Client.SetThumbprint": true, "types.NewInt32": true,
}

func init() {
	for _, m := range []string{"ConfigSpec", "CreateCdrom", "CreateDisk", "CreateEthernetCard", "CreateIDEController",
		"CreateSCSIController", "InsertIso", "NewKey", "Select", "SelectByType"} {
		localCalls["object.VirtualDeviceList."+m] = true
	}
	for _, m := range []string{"BaseFileInfo.GetFileInfo", "BaseOptionValue.GetOptionValue", "BaseVirtualDevice.GetVirtualDevice",
		"BaseVirtualDeviceConfigSpec.GetVirtualDeviceConfigSpec", "BaseVirtualEthernetCard.GetVirtualEthernetCard",
		"BaseVirtualController.GetVirtualController", "BaseVirtualSCSIController.GetVirtualSCSIController"} {
		localCalls["types."+m] = true
	}
}

// systemPrivileges are in every vSphere role.
var systemPrivileges = map[string]bool{"System.Anonymous": true, "System.View": true, "System.Read": true}

// TestOpsRoleCoversProviderCalls: the role --ops-grant-perms makes has the
// privilege of every vSphere method the providers call, and the ops user
// gets it, propagating, on the bridge's distributed switch, so the port
// groups docker network create makes there inherit it (Network.Assign for
// the NICs, DVPortgroup.Delete for docker network rm). Delete takes that
// grant away again.
func TestOpsRoleCoversProviderCalls(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	const user = "ops@vsphere.local"
	o := baseOptions("ops-role")
	o.OpsUser, o.OpsPassword, o.OpsGrantPerms = user, "pw", true
	v, err := s.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	am := object.NewAuthorizationManager(s.Client)
	roles, err := am.RoleList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	role := roles.ByName(OpsRole)
	if role == nil {
		t.Fatalf("no role %s after create", OpsRole)
	}
	has := map[string]bool{}
	for _, p := range role.Privilege {
		has[p] = true
	}
	for _, c := range providerCalls {
		for _, p := range c.privs {
			if !has[p] && !systemPrivileges[p] {
				t.Errorf("%s (%s) needs %s; role %s lacks it", c.call, c.method, p, OpsRole)
			}
		}
	}

	dvs := bridgeSwitch(t, s, o.Bridge)
	perm := func() *vim.Permission { t.Helper(); return userPermission(t, am, dvs, user) }
	if p := perm(); p == nil || p.RoleId != role.RoleId || !p.Propagate {
		t.Errorf("the ops user's permission on the bridge's switch %s: %+v, want role %s, propagating", dvs.Value, p, OpsRole)
	}
	if !contains(v.Config.Ops.Granted, dvs.Type+":"+dvs.Value) {
		t.Errorf("the switch is not among the recorded grants %q", v.Config.Ops.Granted)
	}
	if _, err := s.Delete(ctx, v, false); err != nil {
		t.Fatal(err)
	}
	if p := perm(); p != nil {
		t.Errorf("delete left the ops user's permission on the switch: %+v", p)
	}
}

// bridgeSwitch is the distributed switch of port group name.
// userPermission is user's own permission on entity (nil if none).
func userPermission(t *testing.T, am *object.AuthorizationManager, entity vim.ManagedObjectReference, user string) *vim.Permission {
	t.Helper()
	perms, err := am.RetrieveEntityPermissions(ctxT(t), entity, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range perms {
		if p.Principal == user {
			return &p
		}
	}
	return nil
}

func bridgeSwitch(t *testing.T, s *Session, name string) vim.ManagedObjectReference {
	t.Helper()
	ctx := ctxT(t)
	net, err := s.Finder.Network(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var pg mo.DistributedVirtualPortgroup
	if err := s.propertiesOf(ctx, net.Reference(), []string{"config.distributedVirtualSwitch"}, &pg); err != nil {
		t.Fatal(err)
	}
	if pg.Config.DistributedVirtualSwitch == nil {
		t.Fatalf("port group %s has no switch", name)
	}
	return *pg.Config.DistributedVirtualSwitch
}

// An OpsRole an older vic-machine made, without the privileges added
// since, gets them at the next create (and keeps what it had).
func TestOpsRoleGainsMissingPrivileges(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	am := object.NewAuthorizationManager(s.Client)
	var old []string
	added := map[string]bool{"VirtualMachine.Interact.Suspend": true, "VirtualMachine.Config.CPUCount": true, "VirtualMachine.Config.Memory": true,
		"DVPortgroup.Create": true, "DVPortgroup.Delete": true, "Global.CancelTask": true}
	for _, p := range opsPrivileges {
		if !added[p] {
			old = append(old, p)
		}
	}
	old = append(old, "VirtualMachine.Interact.ConsoleInteract") // an admin's own addition
	if _, err := am.AddRole(ctx, OpsRole, old); err != nil {
		t.Fatal(err)
	}
	o := baseOptions("ops-old-role")
	o.OpsUser, o.OpsPassword, o.OpsGrantPerms = "ops@vsphere.local", "pw", true
	if _, err := s.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	roles, err := am.RoleList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := roles.ByName(OpsRole)
	if r == nil {
		t.Fatalf("role %s gone", OpsRole)
	}
	if missing := missingPrivileges(r.Privilege); len(missing) > 0 {
		t.Errorf("role %s still lacks %q", OpsRole, missing)
	}
	if !contains(r.Privilege, "VirtualMachine.Interact.ConsoleInteract") {
		t.Errorf("the role lost a privilege it had: %q", r.Privilege)
	}
}

// TestProviderCallsListed reads the providers' source (type-checked) for
// every govmomi function and method they call: each is in providerCalls
// or localCalls, so a new call cannot go without its privilege; and every
// row of providerCalls is still called.
func TestProviderCallsListed(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the port layer's vSphere packages (go list -export)")
	}
	calls := govmomiCalls(t, "github.com/vchproject/vch/portlayer/vsphere/...", "github.com/vchproject/vch/portlayer/vsphere/vsimtest")
	listed := map[string]bool{}
	for _, c := range providerCalls {
		listed[c.call] = true
	}
	for call, at := range calls {
		if !listed[call] && !localCalls[call] {
			t.Errorf("%s (called at %s) is in neither providerCalls (with its privileges) nor localCalls", call, at)
		}
	}
	for call := range listed {
		if _, ok := calls[call]; !ok {
			t.Errorf("providerCalls lists %s, which the providers no longer call", call)
		}
	}
	if len(calls) < 20 {
		t.Fatalf("found only %d govmomi calls: %v", len(calls), calls)
	}
}

// govmomiCalls type-checks the packages pattern names (but skip) and
// returns each govmomi function or method they use, named without the
// module path ("object.VirtualMachine.PowerOn"), with one place it is
// used.
func govmomiCalls(t *testing.T, pattern string, skip ...string) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-export", "-json=ImportPath,Dir,Export,GoFiles,DepOnly", pattern).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath, Dir, Export string
		GoFiles                 []string
		DepOnly                 bool
	}
	exports := map[string]string{}
	var targets []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if !p.DepOnly && !contains(skip, p.ImportPath) {
			targets = append(targets, p)
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, errors.New("no export data for " + path)
		}
		return os.Open(f)
	})
	const govmomi = "github.com/vmware/govmomi/"
	calls := map[string]string{}
	for _, p := range targets {
		var files []*ast.File
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
		if _, err := (&types.Config{Importer: imp}).Check(p.ImportPath, fset, files, info); err != nil {
			t.Fatalf("type-check %s: %v", p.ImportPath, err)
		}
		for id, obj := range info.Uses {
			fn, ok := obj.(*types.Func)
			if !ok || fn.Pkg() == nil || !strings.HasPrefix(fn.Pkg().Path(), govmomi) {
				continue
			}
			name := strings.NewReplacer("(", "", ")", "", "*", "", govmomi, "", "vim25/", "").Replace(fn.FullName())
			if _, seen := calls[name]; !seen {
				pos := fset.Position(id.Pos())
				calls[name] = filepath.Base(pos.Filename) + ":" + strconv.Itoa(pos.Line)
			}
		}
	}
	return calls
}
