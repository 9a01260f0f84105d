package vsphere

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/vchproject/vch/internal/vice"
)

// inventory is everything a create may change on the target: managed
// entities, datastore files, roles and permissions.
func inventory(t *testing.T, s *Session) []string {
	t.Helper()
	ctx := ctxT(t)
	var out []string
	m := view.NewManager(s.Client)
	cv, err := m.CreateContainerView(ctx, s.Client.ServiceContent.RootFolder, []string{"ManagedEntity"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cv.Destroy(ctx) }()
	var ents []mo.ManagedEntity
	if err := cv.Retrieve(ctx, []string{"ManagedEntity"}, []string{"name"}, &ents); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		out = append(out, "entity "+e.Self.Type+" "+e.Name)
	}
	dss, err := s.Finder.DatastoreList(ctx, "*")
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range dss {
		var d mo.Datastore
		if err := ds.Properties(ctx, ds.Reference(), []string{"info"}, &d); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(d.Info.GetDatastoreInfo().Url)
		if err != nil {
			t.Fatal(err)
		}
		root := u.Path
		_ = filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
			if err == nil && p != root {
				rel, _ := filepath.Rel(root, p)
				out = append(out, "file ["+ds.Name()+"] "+rel)
			}
			return nil
		})
	}
	am := object.NewAuthorizationManager(s.Client)
	roles, err := am.RoleList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		out = append(out, "role "+r.Name)
	}
	perms, err := am.RetrieveAllPermissions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range perms {
		if p.Entity != nil {
			out = append(out, "permission "+p.Principal+" on "+p.Entity.Value)
		}
	}
	sort.Strings(out)
	return out
}

func diff(a, b []string) (gone, added []string) {
	in := func(l []string) map[string]int {
		m := map[string]int{}
		for _, s := range l {
			m[s]++
		}
		return m
	}
	ma, mb := in(a), in(b)
	for k, n := range ma {
		if mb[k] < n {
			gone = append(gone, k)
		}
	}
	for k, n := range mb {
		if ma[k] < n {
			added = append(added, k)
		}
	}
	sort.Strings(gone)
	sort.Strings(added)
	return gone, added
}

func baseOptions(name string) CreateOptions {
	// TestMain's temporary directory holds the certificates.
	certDir, err := os.MkdirTemp("", "certs-")
	if err != nil {
		panic(err)
	}
	return CreateOptions{
		TLS:  EndpointTLS{CertPath: filepath.Join(certDir, name)},
		Name: name, ComputeResource: "DC0_C0", ImageStore: "LocalDS_0/vch",
		VolumeStores: []string{"LocalDS_0/vols:default"},
		Bridge:       "DC0_DVPG0", Public: "VM Network",
		CPU:     vice.Allocation{Limit: 2000, Reservation: 500, Shares: "high"},
		Memory:  vice.Allocation{Limit: 4096, Reservation: 256, Shares: "2000"},
		Version: "v0.0.1-test",
	}
}

// Create makes pool, VM, folders and permissions as documented; List and
// Find see it with the seed's ID and PATH; Delete removes all of it but
// the volume store (and the shared role).
func TestCreateListDelete(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	before := inventory(t, s)

	o := baseOptions("vch02")
	o.OpsUser, o.OpsPassword, o.OpsGrantPerms = "ops@vsphere.local", "0ps-pass", true
	o.ApplianceISO, o.BootstrapISO = filepath.Join(t.TempDir(), "appliance.iso"), filepath.Join(t.TempDir(), "bootstrap.iso")
	for _, f := range []string{o.ApplianceISO, o.BootstrapISO} {
		if err := os.WriteFile(f, []byte("iso "+f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	o.ContainerNetworks = []vice.ContainerNetwork{{PortGroup: vice.PortGroup{Name: "VM Network"}, Alias: "public", Gateway: "10.1.0.1/24"}}
	o.Registry.Insecure, o.Registry.Mirrors = []string{"10.0.2.101:5000"}, []string{"https://mirror.example.com"}
	v, err := s.Create(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.ID, "vm-") || v.Path != "/DC0/host/DC0_C0/Resources" {
		t.Errorf("ID %q PATH %q", v.ID, v.Path)
	}
	all, err := s.List(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("list: %v %v", all, err)
	}
	got := all[0]
	if got.ID != v.ID || got.Path != "/DC0/host/DC0_C0/Resources" || got.Name() != "vch02" || got.Config.Version != "v0.0.1-test" {
		t.Errorf("listed %+v", got)
	}
	c := got.Config
	if c.Ops.Password != "0ps-pass" || c.Network.Bridge.ID == "" || c.Network.Public.Name != "VM Network" || c.Thumbprint != sm.thumbprint ||
		len(c.Network.Containers) != 1 || c.Network.Containers[0].PortGroup.ID == "" {
		t.Errorf("config %+v", c)
	}
	if r := c.Registry; len(r.Insecure) != 1 || r.Insecure[0] != "10.0.2.101:5000" || len(r.Mirrors) != 1 || r.CA != "" {
		t.Errorf("registry settings %+v", r)
	}
	if c.ISO.Appliance != "[LocalDS_0] vch02/appliance.iso" || c.ISO.Bootstrap != "[LocalDS_0] vch02/bootstrap.iso" {
		t.Errorf("ISOs %+v", c.ISO)
	}
	devices, err := got.VM.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cds := devices.SelectByType((*types.VirtualCdrom)(nil))
	if len(cds) != 1 || cds[0].GetVirtualDevice().Backing.(*types.VirtualCdromIsoBackingInfo).FileName != c.ISO.Appliance {
		t.Errorf("endpoint VM CD-ROMs: %v", cds)
	}
	// The data disk: thin, 8 GiB, in the VM's folder, at unit 0 of the
	// PVSCSI controller (the one unit vchd's layer writer never takes).
	scsi := devices.SelectByType((*types.ParaVirtualSCSIController)(nil))
	disks := devices.SelectByType((*types.VirtualDisk)(nil))
	if len(scsi) != 1 || len(disks) != 1 {
		t.Fatalf("endpoint VM: %d PVSCSI controllers, %d disks", len(scsi), len(disks))
	}
	data := disks[0].(*types.VirtualDisk)
	dataFile := data.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	if data.ControllerKey != scsi[0].GetVirtualDevice().Key || *data.UnitNumber != vice.DataDiskUnit || data.CapacityInKB != 8<<20 ||
		dataFile.FileName != "[LocalDS_0] vch02/vch02.vmdk" || dataFile.ThinProvisioned == nil || !*dataFile.ThinProvisioned {
		t.Errorf("the data disk: %s, %d KB, thin %v, on controller %d unit %d", dataFile.FileName, data.CapacityInKB, dataFile.ThinProvisioned, data.ControllerKey, *data.UnitNumber)
	}
	for k, val := range got.ExtraConfig {
		if strings.Contains(val, "0ps-pass") {
			t.Errorf("%s holds the ops password in clear", k)
		}
	}
	var rp mo.ResourcePool
	if err := s.propertiesOf(ctx, got.Pool, []string{"name", "config"}, &rp); err != nil {
		t.Fatal(err)
	}
	cpu, mem := rp.Config.CpuAllocation, rp.Config.MemoryAllocation
	if rp.Name != "vch02" || *cpu.Limit != 2000 || *cpu.Reservation != 500 || cpu.Shares.Level != types.SharesLevelHigh ||
		*mem.Limit != 4096 || *mem.Reservation != 256 || mem.Shares.Level != types.SharesLevelCustom || mem.Shares.Shares != 2000 {
		t.Errorf("pool %s: cpu %+v memory %+v", rp.Name, cpu, mem)
	}
	if got.PowerState != types.VirtualMachinePowerStatePoweredOn {
		t.Errorf("endpoint VM is %s", got.PowerState)
	}
	_, added := diff(before, inventory(t, s))
	for _, want := range []string{"entity ResourcePool vch02", "entity VirtualMachine vch02", "file [LocalDS_0] vch02/appliance.iso", "file [LocalDS_0] vch02/bootstrap.iso", "file [LocalDS_0] vch02/vch02.vmdk", "file [LocalDS_0] vch/VIC/" + filepath.Base(filepath.Dir(c.Storage.Image.Path)) + "/images",
		"file [LocalDS_0] vols/volumes", "role " + OpsRole, "permission ops@vsphere.local on " + got.Pool.Value} {
		if !contains(added, want) {
			t.Errorf("create did not make %q; it made %q", want, added)
		}
	}

	if _, err := s.Find(ctx, "nope", ""); err == nil || !strings.Contains(err.Error(), "there are vch02") {
		t.Errorf("find unknown: %v", err)
	}
	kept, err := s.Delete(ctx, got, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 1 || kept[0].Label != "default" {
		t.Errorf("kept %+v", kept)
	}
	gone, added := diff(before, inventory(t, s))
	if len(gone) > 0 {
		t.Errorf("delete removed what was there before: %q", gone)
	}
	for _, a := range added {
		if a != "role "+OpsRole && !strings.HasPrefix(a, "file [LocalDS_0] vols") {
			t.Errorf("delete left %q", a)
		}
	}
}

// A VCH with container VMs is deleted only with --force, which also
// removes them and the volume stores.
func TestDeleteRefusesContainersWithoutForce(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	before := inventory(t, s)
	v, err := s.Create(ctx, baseOptions("vch-c"))
	if err != nil {
		t.Fatal(err)
	}
	// A container VM in the VCH's pool, as the port layer makes them.
	folders, _ := s.Datacenter.Folders(ctx)
	spec := types.VirtualMachineConfigSpec{Name: "web-1", GuestId: "otherGuest", Files: &types.VirtualMachineFileInfo{VmPathName: "[LocalDS_0]"}}
	task, err := folders.VmFolder.CreateVM(ctx, spec, object.NewResourcePool(s.Client, v.Pool), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := task.WaitForResult(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, v, false); !errors.Is(err, ErrHasContainers) || !strings.Contains(err.Error(), "web-1") {
		t.Fatalf("delete without force: %v", err)
	}
	if _, err := s.Delete(ctx, v, true); err != nil {
		t.Fatal(err)
	}
	gone, added := diff(before, inventory(t, s))
	if len(gone)+len(added) > 0 {
		t.Errorf("delete --force: gone %q, left %q", gone, added)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Each bad input is one line naming what to use, and nothing changes on
// the target.
func TestCreateRefusalsChangeNothing(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	if _, err := s.Create(ctx, baseOptions("first")); err != nil {
		t.Fatal(err)
	}
	before := inventory(t, s)
	for _, c := range []struct {
		name string
		edit func(*CreateOptions)
		want string
	}{
		{"unknown cluster", func(o *CreateOptions) { o.ComputeResource = "nested-vSAN" }, `unknown compute resource "nested-vSAN": not a cluster, host or resource pool of DC0 (it has DC0_C0, DC0_H0)`},
		{"unknown image datastore", func(o *CreateOptions) { o.ImageStore = "vsanDatastore/x" }, `--image-store: unknown datastore "vsanDatastore": DC0 has LocalDS_0`},
		{"unknown volume datastore", func(o *CreateOptions) { o.VolumeStores = []string{"nfs0/v:default"} }, `--volume-store default: unknown datastore "nfs0"`},
		{"unknown port group", func(o *CreateOptions) { o.Public = "public-pg" }, `--public-network: unknown port group "public-pg": DC0 has`},
		{"unknown container network", func(o *CreateOptions) {
			o.ContainerNetworks = []vice.ContainerNetwork{{PortGroup: vice.PortGroup{Name: "web-pg"}, Alias: "web"}}
		}, `--container-network: unknown port group "web-pg"`},
		{"bridge shared with another VCH", func(o *CreateOptions) {}, "--bridge-network DC0_DVPG0 is already the bridge network of VCH first"},
		{"bridge is the public network", func(o *CreateOptions) { o.Bridge = "VM Network" }, "--bridge-network VM Network is also the public-network"},
		{"memory reservation too big", func(o *CreateOptions) { o.Memory = vice.Allocation{Reservation: 1 << 20} }, "--memory-reservation 1048576 MB is more than /DC0/host/DC0_C0/Resources can still reserve"},
		{"cpu reservation too big", func(o *CreateOptions) { o.CPU = vice.Allocation{Reservation: 1 << 20} }, "--cpu-reservation 1048576 MHz is more than"},
		{"VCH name taken", func(o *CreateOptions) { o.Name = "first" }, "a VCH named first already exists"},
		{"VM name taken", func(o *CreateOptions) { o.Name = "DC0_H0_VM0" }, "a VM named DC0_H0_VM0 already exists"},
		{"bad shares", func(o *CreateOptions) { o.CPU.Shares = "lots" }, `--cpu-shares "lots"`},
		{"ops perms without user", func(o *CreateOptions) { o.OpsGrantPerms = true }, "--ops-grant-perms needs --ops-user"},
		{"missing ISO", func(o *CreateOptions) { o.ApplianceISO = "/nonexistent/appliance.iso" }, "--appliance-iso /nonexistent/appliance.iso: not a readable file"},
		{"endpoint IP without mask", func(o *CreateOptions) { o.Addressing = map[string]NetworkAddressing{"public": {IP: "10.0.0.5"}} }, `--public-network-ip "10.0.0.5": give the endpoint's IPv4 address with its mask`},
		{"gateway without IP", func(o *CreateOptions) { o.Addressing = map[string]NetworkAddressing{"public": {Gateway: "10.0.0.1"}} }, "--public-network-gateway needs --public-network-ip"},
		{"gateway off the subnet", func(o *CreateOptions) {
			o.Addressing = map[string]NetworkAddressing{"public": {IP: "10.0.0.5/24", Gateway: "10.1.0.1"}}
		}, "--public-network-gateway 10.1.0.1 is not on 10.0.0.5/24's subnet 10.0.0.0/24"},
		{"client default gateway", func(o *CreateOptions) {
			o.Client = "DC0_DVPG0"
			o.Addressing = map[string]NetworkAddressing{"client": {IP: "10.2.0.5/24", Gateway: "10.2.0.1"}}
		}, `--client-network-gateway "10.2.0.1": on the client network give the destinations it routes to, DEST[,DEST…]:10.2.0.1`},
		{"two addresses on one port group", func(o *CreateOptions) {
			o.Addressing = map[string]NetworkAddressing{"public": {IP: "10.0.0.5/24"}, "client": {IP: "10.0.0.6/24"}}
		}, "--client-network-ip 10.0.0.6/24: port group VM Network has address 10.0.0.5/24 already"},
		{"bad DNS server", func(o *CreateOptions) { o.DNS = []string{"dns.example.com"} }, `--dns-server "dns.example.com": not an IPv4 address`},
		{"bad insecure registry", func(o *CreateOptions) { o.Registry.Insecure = []string{"user@reg"} }, `--insecure-registry: invalid registry "user@reg"`},
		{"bad registry mirror", func(o *CreateOptions) { o.Registry.Mirrors = []string{"ftp://m"} }, "--registry-mirror"},
		{"registry CA not PEM", func(o *CreateOptions) {
			f := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(f, []byte("not a certificate"), 0o644); err != nil {
				t.Fatal(err)
			}
			o.RegistryCAs = []string{f}
		}, "holds no PEM certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := baseOptions("second")
			if c.name != "bridge shared with another VCH" {
				o.Bridge = "DC0_DVPG1"
			}
			c.edit(&o)
			_, err := s.Create(ctx, o)
			if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("got %v\nwant one line with %q", err, c.want)
			}
			if gone, added := diff(before, inventory(t, s)); len(gone)+len(added) > 0 {
				t.Errorf("refused create changed the target: gone %q, added %q", gone, added)
			}
		})
	}
}

// A create that fails midway (a fault injected into one vSphere call)
// removes everything it made.
func TestCreateFailureMidwayRollsBack(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	before := inventory(t, s)
	for _, method := range []string{"PowerOnVM_Task", "MakeDirectory", "SetEntityPermissions", "CreateVM_Task", "ReconfigVM_Task"} {
		t.Run(method, func(t *testing.T) {
			sm.service.ClearFaultRules()
			sm.service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: method, ObjectType: "*", ObjectName: "*",
				Probability: 1, FaultType: simulator.FaultTypeGeneric, Message: "injected " + method, Enabled: true})
			defer sm.service.ClearFaultRules()
			o := baseOptions("midway")
			o.VolumeStores = append(o.VolumeStores, "LocalDS_0/more/nested:second")
			o.OpsUser, o.OpsPassword, o.OpsGrantPerms = "ops@vsphere.local", "x", true
			o.ApplianceISO = filepath.Join(t.TempDir(), "a.iso")
			if err := os.WriteFile(o.ApplianceISO, []byte("iso"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := s.Create(ctx, o)
			if err == nil || !strings.Contains(err.Error(), "injected "+method) {
				t.Fatalf("create with a failing %s: %v", method, err)
			}
			if strings.Contains(err.Error(), "cleanup failed") {
				t.Errorf("cleanup: %v", err)
			}
			if gone, added := diff(before, inventory(t, s)); len(gone)+len(added) > 0 {
				t.Errorf("failed create left the target changed: gone %q, added %q", gone, added)
			}
		})
	}
}

// A create whose vSphere call hangs past the deadline (--timeout) stops
// and still removes everything it made.
func TestCreateInterruptedRollsBack(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	before := inventory(t, s)
	sm.service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: "PowerOnVM_Task", ObjectType: "*", ObjectName: "*",
		Probability: 1, Delay: 8000, FaultType: simulator.FaultTypeGeneric, Message: "late", Enabled: true})
	// No MaxCount: the simulator updates a rule's count under a read lock,
	// and the cleanup's calls arrive on another connection while the
	// delayed call sleeps, so reading the count there is a data race.
	defer sm.service.ClearFaultRules()
	ctx, cancel := context.WithTimeout(ctxT(t), 3*time.Second)
	defer cancel()
	_, err := s.Create(ctx, baseOptions("slow"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("create past its deadline: %v", err)
	}
	if gone, added := diff(before, inventory(t, s)); len(gone)+len(added) > 0 {
		t.Errorf("interrupted create left the target changed: gone %q, added %q", gone, added)
	}
}

// --compute-resource takes a cluster, a standalone host or a pool.
func TestResolveCompute(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	for in, want := range map[string]struct {
		parent string
		hosts  int
	}{
		"DC0_C0":               {"/DC0/host/DC0_C0/Resources", 3},
		"DC0_H0":               {"/DC0/host/DC0_H0/Resources", 1},
		"DC0_C0/Resources":     {"/DC0/host/DC0_C0/Resources", 3},
		"/DC0/host/DC0_C0":     {"/DC0/host/DC0_C0/Resources", 3},
		"DC0_C0/Resources/rp1": {"/DC0/host/DC0_C0/Resources/rp1", 3},
		"DC0_C0/rp1":           {"/DC0/host/DC0_C0/Resources/rp1", 3},
	} {
		if in == "DC0_C0/Resources/rp1" || in == "DC0_C0/rp1" {
			if _, err := s.Finder.ResourcePool(ctx, "DC0_C0/Resources/rp1"); err != nil {
				pool, err := s.Finder.ResourcePool(ctx, "DC0_C0/Resources")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := pool.Create(ctx, "rp1", poolSpec(vice.Resources{})); err != nil {
					t.Fatal(err)
				}
			}
		}
		p, err := s.ResolveCompute(ctx, in)
		if err != nil || p.Parent.InventoryPath != want.parent || len(p.Hosts) != want.hosts {
			t.Errorf("ResolveCompute(%q) = %+v, %v; want %+v", in, p, err, want)
		}
	}
	if _, err := s.ResolveCompute(ctx, ""); err == nil || !strings.Contains(err.Error(), "choose one with --compute-resource") {
		t.Errorf("no --compute-resource with two compute resources: %v", err)
	}
}

// --ops-grant-perms leaves the user's own permissions alone, and deleting
// one of two VCHs of the same ops user keeps what the other needs.
func TestOpsPermissionsShared(t *testing.T) {
	sm := newSim(t)
	s := sm.connect(t)
	ctx := ctxT(t)
	am := object.NewAuthorizationManager(s.Client)
	ds, err := s.Finder.Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	const user = "ops@vsphere.local"
	dsRef := ds.Reference()
	if err := am.SetEntityPermissions(ctx, dsRef, []types.Permission{{Entity: &dsRef, Principal: user, RoleId: -2}}); err != nil {
		t.Fatal(err)
	}
	perms := func() map[string]int32 {
		t.Helper()
		all, err := am.RetrieveAllPermissions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int32{}
		for _, p := range all {
			if p.Principal == user && p.Entity != nil {
				out[p.Entity.Type+":"+p.Entity.Value] = p.RoleId
			}
		}
		return out
	}
	mk := func(name, bridge string) *VCH {
		o := baseOptions(name)
		o.Bridge = bridge
		o.OpsUser, o.OpsPassword, o.OpsGrantPerms = user, "pw", true
		v, err := s.Create(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := mk("vch-a", "DC0_DVPG0")
	b := mk("vch-b", "DC0_DVPG1")
	net, err := s.Finder.Network(ctx, "VM Network")
	if err != nil {
		t.Fatal(err)
	}
	netKey := net.Reference().Type + ":" + net.Reference().Value
	roles, err := am.RoleList(ctx)
	if err != nil || roles.ByName(OpsRole) == nil {
		t.Fatalf("role %s: %v", OpsRole, err)
	}
	ops := roles.ByName(OpsRole).RoleId
	has := func(p map[string]int32, k string) bool { r, ok := p[k]; return ok && r == ops }
	p := perms()
	if p["Datastore:"+dsRef.Value] != -2 {
		t.Errorf("the user's own ReadOnly on LocalDS_0 became role %d", p["Datastore:"+dsRef.Value])
	}
	if !has(p, netKey) || !has(p, "ResourcePool:"+a.Pool.Value) || !has(p, "ResourcePool:"+b.Pool.Value) {
		t.Errorf("grants missing: %v", p)
	}
	va, _ := s.Find(ctx, "vch-a", "")
	if _, err := s.Delete(ctx, va, false); err != nil {
		t.Fatal(err)
	}
	p = perms()
	if !has(p, netKey) || !has(p, "ResourcePool:"+b.Pool.Value) || p["Datastore:"+dsRef.Value] != -2 {
		t.Errorf("deleting vch-a took vch-b's grants or the user's own: %v", p)
	}
	if _, ok := p["ResourcePool:"+a.Pool.Value]; ok {
		t.Errorf("vch-a's pool permission stayed: %v", p)
	}
	vb, _ := s.Find(ctx, "vch-b", "")
	if _, err := s.Delete(ctx, vb, false); err != nil {
		t.Fatal(err)
	}
	if p = perms(); len(p) != 1 || p["Datastore:"+dsRef.Value] != -2 {
		t.Errorf("after both deletes the user has %v; want only its own ReadOnly on LocalDS_0", p)
	}
}
