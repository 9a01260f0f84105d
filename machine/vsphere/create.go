package vsphere

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/vchconfig"
)

// CreateOptions are create's settings (flag names in comments).
type CreateOptions struct {
	Name            string // --name
	ComputeResource string // --compute-resource
	ImageStore      string // --image-store ds[/path]
	VolumeStores    []string
	Bridge          string // --bridge-network
	Public          string // --public-network
	Client          string // --client-network
	Management      string // --management-network
	BridgeRange     string
	// ContainerNetworks are --container-network pg[:alias] with the
	// --container-network-* settings merged in (see ParseContainerNetworks).
	ContainerNetworks []vice.ContainerNetwork
	CPU, Memory       vice.Allocation // --cpu, --cpu-reservation, --cpu-shares, --memory…
	OpsUser           string
	OpsPassword       string
	OpsGrantPerms     bool
	NameConvention    string
	ContainerCPUs     int
	ContainerMemoryMB int64
	BaseImageSize     int64
	EndpointCPUs      int
	EndpointMemoryMB  int64
	Debug             bool
	Version           string
	// Addressing is the endpoint's --public-network-ip and -gateway (and
	// client, management), by network ("public", "client", "management");
	// none: DHCP.
	Addressing map[string]NetworkAddressing
	DNS        []string // --dns-server
	TLS        EndpointTLS
	// Registry is --insecure-registry, --whitelist-registry and
	// --registry-mirror; RegistryCAs the --registry-ca PEM files.
	Registry    vchconfig.Registry
	RegistryCAs []string
	// ApplianceISO and BootstrapISO are local files uploaded to the
	// endpoint VM's folder ("" : none); the endpoint boots the appliance.
	ApplianceISO, BootstrapISO string
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$`)

// planned is a validated create: every object it needs, found.
type planned struct {
	cfg      *vice.Config
	place    *Placement
	imageDS  *object.Datastore
	volumeDS map[string]*object.Datastore // by label
	nets     []object.NetworkReference    // endpoint NICs, distinct
	netNames []string                     // their port groups' names
	macs     map[string]string            // fixed MACs by port group name
	// madeCerts: create made --cert-path (removed if create fails).
	madeCerts bool
	netRefs   map[string]types.ManagedObjectReference
	// containerRefs are the container networks' port groups.
	containerRefs []types.ManagedObjectReference
	bridge        types.ManagedObjectReference // the bridge port group
	uuid          string
	endpoint      types.VirtualMachineConfigSpec
	imageDir      string // folder under imageDS
	volumeDirs    map[string]string
	// folders to make, in order, with the topmost missing one of each.
	folders []folder
	// isoFiles maps a datastore path of cfg.ISO to the local file.
	isoFiles map[string]string
}

type folder struct {
	ds       *object.Datastore
	dir, top string // top "" when dir exists
}

// Create makes a VCH. All checks come first and change nothing; a failure
// after that removes what this call made, in reverse order.
func (s *Session) Create(ctx context.Context, o CreateOptions) (*VCH, error) {
	p, err := s.plan(ctx, o)
	if err != nil {
		return nil, err
	}
	var u undoStack
	if p.madeCerts {
		u.push("certificates in "+o.TLS.CertPath, func(context.Context) error { return os.RemoveAll(o.TLS.CertPath) })
	}
	v, err := s.make(ctx, p, &u)
	if err != nil {
		if uerr := u.run(ctx, s.log); uerr != nil {
			return nil, fmt.Errorf("%w (and the cleanup failed: %v)", err, uerr)
		}
		return nil, err
	}
	return v, nil
}

func (s *Session) plan(ctx context.Context, o CreateOptions) (*planned, error) {
	if !nameRE.MatchString(o.Name) {
		return nil, fmt.Errorf("--name %q: use up to 80 letters, digits, '_', '.' or '-', starting with a letter or digit", o.Name)
	}
	place, err := s.ResolveCompute(ctx, o.ComputeResource)
	if err != nil {
		return nil, err
	}
	existing, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range existing {
		if v.Name() == o.Name {
			return nil, fmt.Errorf("a VCH named %s already exists (%s in %s): choose another --name or delete it first", o.Name, v.ID, v.Path)
		}
	}
	if vm, err := s.Finder.VirtualMachine(ctx, o.Name); err == nil {
		return nil, fmt.Errorf("a VM named %s already exists (%s): choose another --name", o.Name, vm.Reference().Value)
	}
	if _, err := s.Finder.ResourcePool(ctx, place.Parent.InventoryPath+"/"+o.Name); err == nil {
		return nil, fmt.Errorf("a resource pool named %s already exists in %s: choose another --name", o.Name, place.Parent.InventoryPath)
	}

	p := &planned{place: place, volumeDS: map[string]*object.Datastore{}, netRefs: map[string]types.ManagedObjectReference{}, volumeDirs: map[string]string{}}

	// Storage.
	if o.ImageStore == "" {
		return nil, fmt.Errorf("--image-store is required: the datastore (DATASTORE[/PATH]) for images and the endpoint VM")
	}
	imgDS, imgPath, err := ParseDatastorePath(o.ImageStore)
	if err != nil {
		return nil, fmt.Errorf("--image-store %w", err)
	}
	if p.imageDS, err = s.Datastore(ctx, imgDS); err != nil {
		return nil, fmt.Errorf("--image-store: %w", err)
	}
	if _, err := p.imageDS.Stat(ctx, o.Name); err == nil {
		return nil, fmt.Errorf("datastore %s already has a folder %s (the endpoint VM's): choose another --name or remove the folder", imgDS, o.Name)
	}
	p.uuid = newUUID()
	p.imageDir = path.Join(imgPath, "VIC", p.uuid, "images")
	stores, err := ParseVolumeStores(o.VolumeStores)
	if err != nil {
		return nil, err
	}
	for _, vs := range stores {
		ds, err := s.Datastore(ctx, vs.Datastore)
		if err != nil {
			return nil, fmt.Errorf("--volume-store %s: %w", vs.Label, err)
		}
		p.volumeDS[vs.Label] = ds
		p.volumeDirs[vs.Label] = path.Join(vs.Path, "volumes")
	}

	if err := s.planFolders(ctx, p); err != nil {
		return nil, err
	}

	// Networks.
	if o.Bridge == "" {
		return nil, fmt.Errorf("--bridge-network is required: a port group of its own for this VCH's containers")
	}
	if o.Public == "" {
		o.Public = "VM Network"
	}
	if o.Client == "" {
		o.Client = o.Public
	}
	if o.Management == "" {
		o.Management = o.Public
	}
	named := []struct{ flag, name string }{{"--bridge-network", o.Bridge}, {"--public-network", o.Public}, {"--client-network", o.Client}, {"--management-network", o.Management}}
	pgs := map[string]vice.PortGroup{}
	for _, n := range named {
		ref, err := s.Network(ctx, n.flag, n.name)
		if err != nil {
			return nil, err
		}
		if _, seen := p.netRefs[n.name]; !seen {
			p.nets = append(p.nets, ref)
			p.netNames = append(p.netNames, n.name)
		}
		p.netRefs[n.name] = ref.Reference()
		pgs[n.flag] = vice.PortGroup{Name: n.name, ID: ref.Reference().Value}
	}
	for _, n := range named[1:] {
		if n.name == o.Bridge {
			return nil, fmt.Errorf("--bridge-network %s is also the %s: the bridge needs a port group of its own", o.Bridge, strings.TrimPrefix(n.flag, "--"))
		}
	}
	bridgeRef := p.netRefs[o.Bridge]
	p.bridge = bridgeRef
	if s.IsVC && bridgeRef.Type != "DistributedVirtualPortgroup" {
		return nil, fmt.Errorf("--bridge-network %s is a %s, not a distributed port group: on vCenter the bridge must be a distributed port group, so container VMs on every host reach it", o.Bridge, bridgeRef.Type)
	}
	for _, v := range existing {
		if v.Config != nil && (v.Config.Network.Bridge.ID == bridgeRef.Value || v.Config.Network.Bridge.Name == o.Bridge) {
			return nil, fmt.Errorf("--bridge-network %s is already the bridge network of VCH %s (%s): each VCH needs a bridge port group of its own", o.Bridge, v.Name(), v.ID)
		}
	}
	aliases := map[string]bool{}
	var cnets []vice.ContainerNetwork
	for _, cn := range o.ContainerNetworks {
		ref, err := s.Network(ctx, "--container-network", cn.PortGroup.Name)
		if err != nil {
			return nil, err
		}
		if cn.PortGroup.Name == o.Bridge {
			return nil, fmt.Errorf("--container-network %s is the bridge network: choose another port group", cn.PortGroup.Name)
		}
		if aliases[cn.Alias] {
			return nil, fmt.Errorf("--container-network: two networks are called %s: give each its own :ALIAS", cn.Alias)
		}
		aliases[cn.Alias] = true
		cn.PortGroup.ID = ref.Reference().Value
		p.containerRefs = append(p.containerRefs, ref.Reference())
		cnets = append(cnets, cn)
	}

	// Resources.
	if err := s.checkReservations(ctx, place, o.CPU, o.Memory); err != nil {
		return nil, err
	}

	// Operations user.
	ops := vice.Ops{User: o.OpsUser, Password: o.OpsPassword, GrantPerms: o.OpsGrantPerms}
	if ops.User == "" {
		if o.OpsGrantPerms {
			return nil, fmt.Errorf("--ops-grant-perms needs --ops-user: the user to grant the VCH's permissions to")
		}
		ops.User, ops.Password = s.Target.User, s.Target.Password
	} else if ops.Password == "" {
		return nil, fmt.Errorf("--ops-user %s needs --ops-password", ops.User)
	}
	if ops.GrantPerms {
		ops.Role = OpsRole
		if ops.Granted, err = s.planGrants(ctx, p, ops.User); err != nil {
			return nil, err
		}
	}

	if o.ContainerCPUs == 0 {
		o.ContainerCPUs = 1
	}
	if o.ContainerMemoryMB == 0 {
		o.ContainerMemoryMB = 512
	}
	if o.BaseImageSize == 0 {
		o.BaseImageSize = 8 << 30
	}
	if o.EndpointCPUs == 0 {
		o.EndpointCPUs = 1
	}
	if o.EndpointMemoryMB == 0 {
		o.EndpointMemoryMB = 2048
	}
	var isos vice.ISO
	for _, f := range []struct {
		flag, file string
		dst        *string
	}{{"--appliance-iso", o.ApplianceISO, &isos.Appliance}, {"--bootstrap-iso", o.BootstrapISO, &isos.Bootstrap}} {
		if f.file == "" {
			continue
		}
		if st, err := os.Stat(f.file); err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s %s: not a readable file", f.flag, f.file)
		}
		*f.dst = p.imageDS.Path(o.Name + "/" + strings.TrimSuffix(strings.TrimPrefix(f.flag, "--"), "-iso") + ".iso")
	}
	p.isoFiles = map[string]string{isos.Appliance: o.ApplianceISO, isos.Bootstrap: o.BootstrapISO}
	if o.BridgeRange == "" {
		o.BridgeRange = "172.16.0.0/12"
	}
	if _, err := netip.ParsePrefix(o.BridgeRange); err != nil {
		return nil, fmt.Errorf("--bridge-network-range %q: not a CIDR", o.BridgeRange)
	}
	registryCA, err := vchconfig.ValidateRegistry(o.Registry, o.RegistryCAs)
	if err != nil {
		return nil, err
	}
	registry := vice.Registry{Insecure: o.Registry.Insecure, Whitelist: o.Registry.Whitelist, Mirrors: o.Registry.Mirrors}
	if len(registryCA) > 0 {
		registry.CA = vice.EncodePEM(registryCA)
	}
	p.cfg = &vice.Config{
		Name: o.Name, Version: o.Version, Target: s.Target.Host, Thumbprint: s.Thumbprint,
		Datacenter: s.Datacenter.InventoryPath, ComputeResource: place.Parent.InventoryPath,
		Pool: place.Parent.InventoryPath + "/" + o.Name, PoolKind: "pool",
		Ops:     ops,
		Storage: vice.Storage{Image: vice.Datastore{Datastore: imgDS, Path: p.imageDir}, Volumes: stores, BaseImageSize: o.BaseImageSize, Made: p.made()},
		Network: vice.Network{Bridge: pgs["--bridge-network"], Public: endpointNet(pgs["--public-network"]), Client: endpointNet(pgs["--client-network"]),
			Management: endpointNet(pgs["--management-network"]), BridgeRange: o.BridgeRange, Containers: cnets},
		Resources: vice.Resources{CPU: o.CPU, Memory: o.Memory},
		Container: vice.Container{NameConvention: o.NameConvention, CPUs: o.ContainerCPUs, MemoryMB: o.ContainerMemoryMB},
		Registry:  registry,
		ISO:       isos,
		Debug:     o.Debug,
		CreatedAt: time.Now().UTC().Format(time.RFC3339),
	}
	if p.macs, err = planEndpointNetworks(&p.cfg.Network, o.Addressing, o.DNS); err != nil {
		return nil, err
	}
	key, err := vice.NewKey()
	if err != nil {
		return nil, err
	}
	// The certificates come last: nothing after them refuses the create.
	if p.cfg.TLS, p.madeCerts, err = planTLS(o.Name, p.cfg.Network, o.TLS); err != nil {
		return nil, err
	}
	kv, err := vice.Encode(p.cfg, key)
	if err == nil {
		p.endpoint, err = s.endpointSpec(ctx, p, o, kv)
	}
	if err != nil {
		if p.madeCerts {
			os.RemoveAll(o.TLS.CertPath)
		}
		return nil, err
	}
	return p, nil
}

// endpointSpec is the endpoint VM: its NICs on the VCH's port groups, its
// data disk and the config in extraConfig.
func (s *Session) endpointSpec(ctx context.Context, p *planned, o CreateOptions, kv map[string]string) (types.VirtualMachineConfigSpec, error) {
	var devices object.VirtualDeviceList
	for i, n := range p.nets {
		backing, err := n.EthernetCardBackingInfo(ctx)
		if err != nil {
			return types.VirtualMachineConfigSpec{}, fmt.Errorf("NIC on %s: %w", n.GetInventoryPath(), err)
		}
		nic, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", backing)
		if err != nil {
			return types.VirtualMachineConfigSpec{}, fmt.Errorf("NIC on %s: %w", n.GetInventoryPath(), err)
		}
		// The appliance finds its public, client, management and bridge
		// NICs by these fixed MACs.
		if mac, ok := p.macs[p.netNames[i]]; ok {
			card := nic.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
			card.MacAddress = mac
		}
		devices = append(devices, nic)
	}
	// A PVSCSI controller with the data disk (datadisk.go) at its unit
	// 0: vchd attaches each image layer's disk to its own VM there, at
	// other units, while it writes the layer (vsdisk).
	scsi, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return types.VirtualMachineConfigSpec{}, fmt.Errorf("endpoint PVSCSI controller: %w", err)
	}
	devices = append(devices, scsi)
	devices = append(devices, newDataDisk(devices, scsi.(types.BaseVirtualController)))
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return types.VirtualMachineConfigSpec{}, fmt.Errorf("endpoint devices: %w", err)
	}
	return types.VirtualMachineConfigSpec{
		Name:         o.Name,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierOther3xLinux64Guest),
		NumCPUs:      int32(o.EndpointCPUs),
		MemoryMB:     o.EndpointMemoryMB,
		Uuid:         p.uuid,
		Annotation:   "vch endpoint VM of VCH " + o.Name,
		Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + p.imageDS.Name() + "]"},
		DeviceChange: change,
		ExtraConfig:  optionValues(kv),
	}, nil
}

func endpointNet(pg vice.PortGroup) vice.EndpointNetwork {
	return vice.EndpointNetwork{Name: pg.Name, ID: pg.ID}
}

func optionValues(kv map[string]string) []types.BaseOptionValue {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sortStrings(keys)
	out := make([]types.BaseOptionValue, 0, len(kv))
	for _, k := range keys {
		out = append(out, &types.OptionValue{Key: k, Value: kv[k]})
	}
	return out
}

func (s *Session) make(ctx context.Context, p *planned, u *undoStack) (*VCH, error) {
	log := s.log.With(zap.String("vch", p.cfg.Name))
	rp, err := p.place.Parent.Create(ctx, p.cfg.Name, poolSpec(p.cfg.Resources))
	if err != nil {
		return nil, fmt.Errorf("create resource pool %s: %w", p.cfg.Pool, err)
	}
	u.push("resource pool "+p.cfg.Pool, func(ctx context.Context) error { return waitTask(ctx, rp.Destroy) })
	log.Info("resource pool created", zap.String("pool", rp.Reference().Value))

	folders, err := s.Datacenter.Folders(ctx)
	if err != nil {
		return nil, fmt.Errorf("folders of %s: %w", s.Datacenter.Name(), err)
	}
	task, err := folders.VmFolder.CreateVM(ctx, p.endpoint, rp, nil)
	if err != nil {
		return nil, fmt.Errorf("create endpoint VM: %w", err)
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create endpoint VM: %w", err)
	}
	vm := object.NewVirtualMachine(s.Client, info.Result.(types.ManagedObjectReference))
	u.push("endpoint VM "+vm.Reference().Value, func(ctx context.Context) error { return destroyVM(ctx, vm) })
	log.Info("endpoint VM created", zap.String("vm", vm.Reference().Value))

	if err := s.uploadISOs(ctx, p, vm); err != nil {
		return nil, err
	}
	if err := s.mkdirs(ctx, p, u); err != nil {
		return nil, fmt.Errorf("image and volume stores: %w", err)
	}
	if p.cfg.Ops.GrantPerms {
		if err := s.grantOps(ctx, p, rp.Reference(), u); err != nil {
			return nil, fmt.Errorf("grant permissions to %s: %w", p.cfg.Ops.User, err)
		}
	}
	if err := waitTask(ctx, vm.PowerOn); err != nil {
		return nil, fmt.Errorf("power on endpoint VM %s: %w", vm.Reference().Value, err)
	}
	log.Info("endpoint VM powered on")
	return &VCH{ID: vm.Reference().Value, Path: p.place.Parent.InventoryPath, Config: p.cfg, VM: vm, Pool: rp.Reference(), PowerState: types.VirtualMachinePowerStatePoweredOn}, nil
}

// uploadISOs copies the ISOs into the endpoint VM's folder (removed with
// the VM) and puts the appliance in a CD-ROM drive of the VM.
func (s *Session) uploadISOs(ctx context.Context, p *planned, vm *object.VirtualMachine) error {
	for _, dst := range []string{p.cfg.ISO.Appliance, p.cfg.ISO.Bootstrap} {
		if dst == "" {
			continue
		}
		var dp object.DatastorePath
		dp.FromString(dst)
		if err := p.imageDS.UploadFile(ctx, p.isoFiles[dst], dp.Path, &soap.DefaultUpload); err != nil {
			return fmt.Errorf("upload %s to %s: %w", p.isoFiles[dst], dst, err)
		}
	}
	if p.cfg.ISO.Appliance == "" {
		return nil
	}
	devices, err := vm.Device(ctx)
	if err != nil {
		return fmt.Errorf("devices of endpoint VM: %w", err)
	}
	ide := devices.PickController((*types.VirtualIDEController)(nil))
	if ide == nil {
		c, err := devices.CreateIDEController()
		if err != nil {
			return fmt.Errorf("IDE controller: %w", err)
		}
		if err := vm.AddDevice(ctx, c); err != nil {
			return fmt.Errorf("add IDE controller: %w", err)
		}
		if devices, err = vm.Device(ctx); err != nil {
			return fmt.Errorf("devices of endpoint VM: %w", err)
		}
		ide = devices.PickController((*types.VirtualIDEController)(nil))
	}
	cd, err := devices.CreateCdrom(ide.(*types.VirtualIDEController))
	if err != nil {
		return fmt.Errorf("CD-ROM: %w", err)
	}
	if err := vm.AddDevice(ctx, devices.InsertIso(cd, p.cfg.ISO.Appliance)); err != nil {
		return fmt.Errorf("add CD-ROM with %s: %w", p.cfg.ISO.Appliance, err)
	}
	return nil
}

// planFolders finds, for the image store and each volume store, the
// topmost folder that does not exist yet.
func (s *Session) planFolders(ctx context.Context, p *planned) error {
	add := func(ds *object.Datastore, dir string) {
		parts := strings.Split(dir, "/")
		f := folder{ds: ds, dir: dir}
		for i := range parts {
			sub := strings.Join(parts[:i+1], "/")
			if _, err := ds.Stat(ctx, sub); err != nil {
				f.top = sub
				break
			}
		}
		p.folders = append(p.folders, f)
	}
	if p.imageDS != nil {
		add(p.imageDS, p.imageDir)
	}
	for _, vs := range p.sortedLabels() {
		add(p.volumeDS[vs], p.volumeDirs[vs])
	}
	return nil
}

func (p *planned) sortedLabels() []string {
	var l []string
	for k := range p.volumeDS {
		l = append(l, k)
	}
	sortStrings(l)
	return l
}

// made lists the topmost folders create makes, "[ds] path", once each.
func (p *planned) made() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range p.folders {
		if f.top == "" {
			continue
		}
		x := f.ds.Path(f.top)
		for y := range seen {
			if x == y || strings.HasPrefix(x, y+"/") {
				x = ""
				break
			}
		}
		if x != "" && !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// mkdirs makes the planned folders with their parents and pushes the
// removal of each topmost folder made.
func (s *Session) mkdirs(ctx context.Context, p *planned, u *undoStack) error {
	fm := object.NewFileManager(s.Client)
	pushed := map[string]bool{}
	for _, f := range p.folders {
		if f.top == "" {
			continue
		}
		full := f.ds.Path(f.dir)
		if _, err := f.ds.Stat(ctx, f.dir); err == nil {
			continue // made with an earlier one
		}
		if err := fm.MakeDirectory(ctx, full, s.Datacenter, true); err != nil {
			return fmt.Errorf("make folder %s: %w", full, err)
		}
		for _, top := range p.made() {
			if !pushed[top] && (f.ds.Path(f.top) == top || strings.HasPrefix(f.ds.Path(f.top), top+"/")) {
				pushed[top] = true
				t := top
				u.push("folder "+t, func(ctx context.Context) error {
					task, err := fm.DeleteDatastoreFile(ctx, t, s.Datacenter)
					if err != nil {
						return err
					}
					return task.Wait(ctx)
				})
			}
		}
	}
	return nil
}

func destroyVM(ctx context.Context, vm *object.VirtualMachine) error {
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.powerState"}, &m); err != nil {
		return err
	}
	if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		if err := waitTask(ctx, vm.PowerOff); err != nil {
			return fmt.Errorf("power off: %w", err)
		}
	}
	return waitTask(ctx, vm.Destroy)
}

// waitTask starts a task and waits for it within ctx. Task.Wait, not
// WaitEx: WaitEx shares the session's one PropertyCollector between
// callers and is not safe for concurrent use (the race detector caught it
// against the simulator); Wait makes a collector per call. Both return the
// task's fault as *task.Error.
func waitTask(ctx context.Context, start func(context.Context) (*object.Task, error)) error {
	t, err := start(ctx)
	if err != nil {
		return err
	}
	return t.Wait(ctx)
}

func poolSpec(r vice.Resources) types.ResourceConfigSpec {
	return types.ResourceConfigSpec{CpuAllocation: allocation(r.CPU), MemoryAllocation: allocation(r.Memory)}
}

func allocation(a vice.Allocation) types.ResourceAllocationInfo {
	limit := a.Limit
	if limit <= 0 {
		limit = -1
	}
	res := a.Reservation
	expandable := true
	shares := types.SharesInfo{Level: types.SharesLevelNormal}
	switch a.Shares {
	case "low", "normal", "high":
		shares.Level = types.SharesLevel(a.Shares)
	case "":
	default:
		n, _ := strconv.Atoi(a.Shares)
		shares = types.SharesInfo{Level: types.SharesLevelCustom, Shares: int32(n)}
	}
	return types.ResourceAllocationInfo{Reservation: &res, Limit: &limit, ExpandableReservation: &expandable, Shares: &shares}
}

// checkReservations refuses reservations the parent pool cannot give and
// limits below reservations.
func (s *Session) checkReservations(ctx context.Context, place *Placement, cpu, mem vice.Allocation) error {
	for _, c := range []struct {
		what string
		a    vice.Allocation
		unit string
	}{{"cpu", cpu, "MHz"}, {"memory", mem, "MB"}} {
		if err := checkShares(c.what, c.a.Shares); err != nil {
			return err
		}
		if c.a.Reservation < 0 || c.a.Limit < -1 {
			return fmt.Errorf("--%s: a negative value: use 0 for none", c.what)
		}
		if c.a.Limit > 0 && c.a.Reservation > c.a.Limit {
			return fmt.Errorf("--%s-reservation %d %s is above the --%s limit %d %s", c.what, c.a.Reservation, c.unit, c.what, c.a.Limit, c.unit)
		}
	}
	if cpu.Reservation == 0 && mem.Reservation == 0 {
		return nil
	}
	var rp mo.ResourcePool
	if err := s.propertiesOf(ctx, place.Parent.Reference(), []string{"runtime"}, &rp); err != nil {
		return fmt.Errorf("runtime of %s: %w", place.Parent.InventoryPath, err)
	}
	if free := rp.Runtime.Cpu.UnreservedForPool; cpu.Reservation > free {
		return fmt.Errorf("--cpu-reservation %d MHz is more than %s can still reserve (%d MHz)", cpu.Reservation, place.Parent.InventoryPath, free)
	}
	if free := rp.Runtime.Memory.UnreservedForPool >> 20; mem.Reservation > free {
		return fmt.Errorf("--memory-reservation %d MB is more than %s can still reserve (%d MB)", mem.Reservation, place.Parent.InventoryPath, free)
	}
	return nil
}

func checkShares(what, s string) error {
	switch s {
	case "", "low", "normal", "high":
		return nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return nil
	}
	return fmt.Errorf("--%s-shares %q: use low, normal, high or a positive number", what, s)
}

// ParseVolumeStores reads --volume-store DATASTORE/PATH:LABEL values.
func ParseVolumeStores(vals []string) ([]vice.VolumeStore, error) {
	var out []vice.VolumeStore
	labels := map[string]bool{}
	for _, v := range vals {
		i := strings.LastIndex(v, ":")
		if i < 0 {
			return nil, fmt.Errorf("--volume-store %q: use DATASTORE/PATH:LABEL", v)
		}
		label := v[i+1:]
		if !labelRE.MatchString(label) {
			return nil, fmt.Errorf("--volume-store %q: label %q: use letters, digits, '_' or '-'", v, label)
		}
		ds, p, err := ParseDatastorePath(v[:i])
		if err != nil {
			return nil, fmt.Errorf("--volume-store %w", err)
		}
		if labels[label] {
			return nil, fmt.Errorf("--volume-store: label %s given twice", label)
		}
		labels[label] = true
		out = append(out, vice.VolumeStore{Label: label, Datastore: ds, Path: p})
	}
	return out, nil
}

var labelRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// ParseContainerNetworks merges --container-network PG[:ALIAS] with
// --container-network-gateway PG:GW/MASK, -ip-range PG:FROM-TO|CIDR,
// -dns PG:IP and -firewall PG:POLICY.
func ParseContainerNetworks(nets, gateways, ranges, dns, firewalls []string) ([]vice.ContainerNetwork, error) {
	var out []vice.ContainerNetwork
	idx := map[string]int{}
	for _, n := range nets {
		pg, alias, _ := strings.Cut(n, ":")
		if pg == "" {
			return nil, fmt.Errorf("--container-network %q: use PORTGROUP[:ALIAS]", n)
		}
		if alias == "" {
			alias = pg
		}
		if _, dup := idx[pg]; dup {
			return nil, fmt.Errorf("--container-network %s given twice", pg)
		}
		idx[pg] = len(out)
		out = append(out, vice.ContainerNetwork{PortGroup: vice.PortGroup{Name: pg}, Alias: alias})
	}
	set := func(flag string, vals []string, apply func(*vice.ContainerNetwork, string) error) error {
		for _, v := range vals {
			pg, val, ok := strings.Cut(v, ":")
			if !ok || val == "" {
				return fmt.Errorf("%s %q: use PORTGROUP:VALUE", flag, v)
			}
			i, known := idx[pg]
			if !known {
				return fmt.Errorf("%s %q: %s is not a --container-network", flag, v, pg)
			}
			if err := apply(&out[i], val); err != nil {
				return fmt.Errorf("%s %q: %w", flag, v, err)
			}
		}
		return nil
	}
	if err := set("--container-network-gateway", gateways, func(c *vice.ContainerNetwork, v string) error {
		if _, err := netip.ParsePrefix(v); err != nil {
			return errors.New("use GATEWAY/MASK, e.g. 10.1.0.1/24")
		}
		c.Gateway = v
		return nil
	}); err != nil {
		return nil, err
	}
	if err := set("--container-network-ip-range", ranges, func(c *vice.ContainerNetwork, v string) error {
		if _, err := netip.ParsePrefix(v); err == nil {
			c.IPRange = v
			return nil
		}
		a, b, ok := strings.Cut(v, "-")
		if ok && net.ParseIP(a) != nil && net.ParseIP(b) != nil {
			c.IPRange = v
			return nil
		}
		return errors.New("use FIRST-LAST or a CIDR")
	}); err != nil {
		return nil, err
	}
	if err := set("--container-network-dns", dns, func(c *vice.ContainerNetwork, v string) error {
		if net.ParseIP(v) == nil {
			return errors.New("not an IP address")
		}
		c.DNS = append(c.DNS, v)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := set("--container-network-firewall", firewalls, func(c *vice.ContainerNetwork, v string) error {
		switch v {
		case "closed", "outbound", "published", "open", "peers":
			c.Firewall = v
			return nil
		}
		return errors.New("use closed, outbound, published, open or peers")
	}); err != nil {
		return nil, err
	}
	return out, nil
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
