// Package vscompute is the vSphere compute provider: one VM per container
// in the VCH's resource pool, its definition and the status the power
// state cannot tell kept in the VM's own extraConfig (guestinfo keys, the
// tether's config source on vSphere). Every read asks vSphere through the
// PropertyCollector, so a restarted vchd finds everything where it left
// it; nothing lives only in this process.
//
// Keys (names and values keep to [A-Za-z0-9._=-]: govmomi's simulator
// passes guestinfo keys unquoted to docker create):
//
//	guestinfo.vch.vch     the VCH's ID (two VCHs may share a pool)
//	guestinfo.vch.id      the container ID
//	guestinfo.vch.spec    base64url(JSON compute.Spec)
//	guestinfo.vch.status  base64url(JSON record): started/finished times,
//	                      exit code, error, boot steps, the guest pid
//	guestinfo.vch.maint   "1" while the VM is on for a maintenance boot
//
//	guestinfo.vch.config  base64url(JSON tether/proto.Config): the tether's
//	                      config (process, SSH host key)
//	guestinfo.vch.serial  host:port of the VCH's serial concentrator
//	guestinfo.vch.token   the VM's secret in its serial hello lines
//	guestinfo.vch.disks   base64url(JSON map[string]int): the SCSI units
//	                      (first PVSCSI controller) of the writable
//	                      layer's disk ("/") and each volume's disk
//
// What needs a process inside the VM (output, exit codes, signals, exec,
// top, stats) goes over the tether's channels, which on vSphere are
// network serial ports to the VCH's serial concentrator (serial.go; each
// VM gets serial0 = a console file in its folder, serial1 and serial2 =
// tcp:// ports the host connects to the concentrator):
// logs are kept on the VCH (Config.LogDir), the control channel speaks
// the same protocol as under QEMU (package tetherlink). Without
// Config.Serial those calls answer ErrNotImplemented (see
// docs/architecture.md).
package vscompute

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/volume"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/tether/proto"
)

// extraConfig keys.
const (
	KeyVCH    = "guestinfo.vch.vch"
	KeyID     = "guestinfo.vch.id"
	KeySpec   = "guestinfo.vch.spec"
	KeyStatus = "guestinfo.vch.status"
	// KeyMaint ("1") marks a VM powered on for a maintenance boot
	// (archive.go), set before the power on and removed once it is off.
	KeyMaint = "guestinfo.vch.maint"
	// KeyDisks: the SCSI units of the writable layer's and the volumes'
	// disks (proto.GuestinfoDisks).
	KeyDisks = proto.GuestinfoDisks
)

// VolumeDisks gives what a VM attaches for a volume; on vSphere the
// attachment's Disk is the datastore path of the volume's VMDK
// ("[ds] folder/NAME.vmdk"), as vsvolume.Provider gives it.
type VolumeDisks interface {
	Attach(ctx context.Context, name string) (volume.Attachment, error)
}

// Config of the provider.
type Config struct {
	Session *vsession.Session
	// VCH tells this VCH's VMs from others in the pool ([A-Za-z0-9_.-]).
	VCH string
	// Datastore holds the VMs' files (the image store's datastore).
	Datastore string
	// BootISO, if set, is the datastore path of the bootstrap ISO (kernel +
	// tether) the VMs boot from a CD-ROM.
	BootISO string
	// Layers gives each container a writable layer disk, a child of its
	// image's top layer (vsstorage.Store); nil: VMs get no image disk.
	Layers  LayerDisks
	Volumes VolumeDisks // nil: containers cannot mount volumes
	// Network gives starting VMs their NICs (Attach) and hears of ended
	// runs (Detach); nil: containers have no NICs.
	Network compute.NetworkAttacher
	// PortGroups maps the port layer's network names to port groups
	// ("bridge" -> the VCH's bridge port group); a network not in it
	// uses its host-side name (compute.NIC.Bridge) as the port group.
	PortGroups map[string]string
	CPUs       int   // default vCPUs
	MemoryMB   int64 // default memory
	Logger     *zap.Logger
	// Backing, for govmomi's simulator only, backs each VM with a docker
	// container: the image and arguments of the simulator's RUN.container
	// key (which it joins into a shell command unquoted). The container
	// shares the network namespace of the simulator's dockerd
	// (RUN.network host) and gets the VM's guestinfo keys as VMX_GUESTINFO_*
	// variables, as the tether would read them through the backdoor.
	Backing []string
	// Serial is the serial concentrator's listen address (host:port);
	// empty: no tether transport (process calls are ErrNotImplemented).
	Serial string
	// SerialAddr is the address VMs dial (guestinfo.vch.serial);
	// empty: the listener's address.
	SerialAddr string
	// LogDir keeps each container's output (LogDir/ID/output.log), on the
	// VCH's own disk; required with Serial.
	LogDir string
	// Debug turns the tethers' debug logging on.
	Debug bool
}

// Provider implements compute.Provider on vSphere.
type Provider struct {
	cfg Config
	s   *vsession.Session
	log *zap.Logger

	mu      sync.Mutex
	waiters map[string]int
	busy    map[string]bool // ids with a power operation in flight
	// maintDone holds, for each container in a maintenance boot, the
	// channel closed when the boot ended (its VM is off and the claim
	// released); Start and Remove wait for it.
	maintDone map[string]chan struct{}
	// removed keeps, for a while, each removed container's status as read
	// just before its VM was destroyed: Wait(WaitRemoved) reports it.
	removed map[string]*compute.Status
	recMu   map[string]*recLock
	hub     *hub // nil without Config.Serial
	// volMu orders the volume check and power on of starts whose
	// containers mount volumes (volumesFree).
	volMu sync.Mutex
}

type recLock struct {
	mu   sync.Mutex
	refs int
}

// lockRec serializes read-modify-write of one container's record
// between the serial concentrator (exits) and power operations.
func (p *Provider) lockRec(id string) func() {
	p.mu.Lock()
	l := p.recMu[id]
	if l == nil {
		l = &recLock{}
		p.recMu[id] = l
	}
	l.refs++
	p.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		p.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(p.recMu, id)
		}
		p.mu.Unlock()
	}
}

// New returns a provider; it reads nothing until asked.
func New(cfg Config) (*Provider, error) {
	if cfg.Session == nil || cfg.Datastore == "" || !namePattern.MatchString(cfg.VCH) {
		return nil, fmt.Errorf("vsphere compute: Session, Datastore and a VCH name of [A-Za-z0-9_.-] are required: %w", errdefs.ErrInvalidParameter)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	if cfg.MemoryMB == 0 {
		cfg.MemoryMB = 256
	}
	p := &Provider{cfg: cfg, s: cfg.Session, log: cfg.Logger, waiters: map[string]int{}, busy: map[string]bool{},
		maintDone: map[string]chan struct{}{}, removed: map[string]*compute.Status{}, recMu: map[string]*recLock{}}
	if cfg.Serial != "" {
		if cfg.LogDir == "" {
			return nil, fmt.Errorf("vsphere compute: Serial needs a LogDir: %w", errdefs.ErrInvalidParameter)
		}
		h, err := startHub(p)
		if err != nil {
			return nil, err
		}
		p.hub = h
	}
	return p, nil
}

// Close stops the serial concentrator; the VMs and their state stay on
// vSphere (their tethers reconnect to the next vchd).
func (p *Provider) Close() error {
	if p.hub != nil {
		p.hub.close()
	}
	return nil
}

var (
	idPattern   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// record is what the power state cannot tell, kept in KeyStatus.
type record struct {
	// Running: the last start succeeded and no exit was recorded since.
	Running    bool           `json:"running,omitempty"`
	StartedAt  time.Time      `json:"startedAt"`
	FinishedAt time.Time      `json:"finishedAt"`
	ExitCode   int            `json:"exitCode"`
	Exited     bool           `json:"exited,omitempty"` // ExitCode is known
	Error      string         `json:"error,omitempty"`
	GuestPid   int            `json:"guestPid,omitempty"` // reported by the tether
	LogStart   int64          `json:"logStart,omitempty"` // the run's first byte in the log
	Boot       []compute.Step `json:"boot,omitempty"`
	// Sizes measured after the run ended (Sizes), until the writable
	// layer can change again.
	Sizes *compute.Sizes `json:"sizes,omitempty"`
}

// vm is one container VM as read from vSphere.
type vm struct {
	ref    types.ManagedObjectReference
	name   string
	power  types.VirtualMachinePowerState
	spec   compute.Spec
	rec    record
	hasRec bool
	nics   string // KeyNICs as stored
	token  string // KeyToken
	config string // KeyConfig as stored
	maint  bool   // powered on for archive sessions only (archive.go)
	// maintMark: the VM carries KeyMaint (a maintenance boot of this
	// process, or one an earlier vchd left when it died).
	maintMark bool
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func decode(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// status derives the docker-facing status from the power state and the
// record.
func (v *vm) status() compute.Status {
	st := compute.Status{StartedAt: v.rec.StartedAt, FinishedAt: v.rec.FinishedAt, ExitCode: v.rec.ExitCode, Error: v.rec.Error, Boot: v.rec.Boot}
	switch {
	case v.maint && v.rec.StartedAt.IsZero():
		st.State = compute.StateCreated
	case v.maint:
		st.State = compute.StateExited
	case v.power == types.VirtualMachinePowerStatePoweredOn && v.processEnded():
		// The tether reported the exit; the VM is on its way off.
		st.State = compute.StateExited
	case v.power == types.VirtualMachinePowerStatePoweredOn || v.power == types.VirtualMachinePowerStateSuspended:
		st.State = compute.StateRunning
		st.Paused = v.power == types.VirtualMachinePowerStateSuspended
		st.Pid = v.rec.GuestPid
		st.FinishedAt = time.Time{}
	case v.rec.Running && !v.rec.Exited:
		// Powered off behind our back (a vchd death between the power
		// off and the record, or an operator): exited, code unknown.
		st.State = compute.StateExited
		st.ExitCode = 255
		st.Error = errLost
	case v.rec.StartedAt.IsZero():
		st.State = compute.StateCreated
	default:
		st.State = compute.StateExited
	}
	return st
}

// processEnded: the record holds the exit of the latest run.
func (v *vm) processEnded() bool {
	return v.rec.Exited && !v.rec.Running && !v.rec.StartedAt.IsZero() && !v.rec.FinishedAt.Before(v.rec.StartedAt)
}

var vmProps = []string{"name", "config.extraConfig", "runtime.powerState"}

// list reads every VM of this VCH in the pool.
func (p *Provider) list(ctx context.Context) ([]*vm, error) {
	v, err := view.NewManager(p.s.Client).CreateContainerView(ctx, p.s.Pool.Reference(), []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, fmt.Errorf("container VMs: %w", vsession.Classify(err))
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	var mos []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, vmProps, &mos); err != nil {
		return nil, fmt.Errorf("container VMs: %w", vsession.Classify(err))
	}
	var out []*vm
	for i := range mos {
		if c := p.fromMO(&mos[i]); c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

func (p *Provider) fromMO(m *mo.VirtualMachine) *vm {
	if m.Config == nil {
		return nil
	}
	kv := map[string]string{}
	for _, o := range m.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov != nil {
			if s, ok := ov.Value.(string); ok {
				kv[ov.Key] = s
			}
		}
	}
	if kv[KeyVCH] != p.cfg.VCH || kv[KeyID] == "" {
		return nil
	}
	c := &vm{ref: m.Self, name: m.Name, power: m.Runtime.PowerState, nics: kv[KeyNICs], token: kv[KeyToken], config: kv[KeyConfig]}
	c.maintMark = kv[KeyMaint] != ""
	c.maint = c.maintMark || p.hub != nil && p.hub.inMaintenance(kv[KeyID])
	if err := decode(kv[KeySpec], &c.spec); err != nil {
		p.log.Warn("container VM with an unreadable spec", zap.String("vm", m.Name), zap.Error(err))
		return nil
	}
	if s := kv[KeyStatus]; s != "" {
		if err := decode(s, &c.rec); err != nil {
			p.log.Warn("container VM with an unreadable status", zap.String("vm", m.Name), zap.Error(err))
		} else {
			c.hasRec = true
		}
	}
	return c
}

// find reads one container's VM.
func (p *Provider) find(ctx context.Context, id string) (*vm, error) {
	all, err := p.list(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.spec.ID == id {
			return c, nil
		}
	}
	return nil, errdefs.NotFound(fmt.Sprintf("No such container: %s", id))
}

// get reads one VM by reference (after find), for fresh properties.
func (p *Provider) get(ctx context.Context, ref types.ManagedObjectReference) (*vm, error) {
	var m mo.VirtualMachine
	if err := object.NewVirtualMachine(p.s.Client, ref).Properties(ctx, ref, vmProps, &m); err != nil {
		return nil, vsession.Classify(err)
	}
	c := p.fromMO(&m)
	if c == nil {
		return nil, errdefs.NotFound(fmt.Sprintf("VM %s is no container VM of this VCH", ref.Value))
	}
	return c, nil
}

func vmName(spec compute.Spec) string {
	if spec.Name != "" {
		return spec.Name
	}
	return spec.ID[:12]
}

// Create makes the VM, powered off, with the definition in extraConfig.
func (p *Provider) Create(ctx context.Context, spec compute.Spec) error {
	if !idPattern.MatchString(spec.ID) {
		return fmt.Errorf("container id %q: want 64 lowercase hex digits: %w", spec.ID, errdefs.ErrInvalidParameter)
	}
	if len(spec.Process.Args) == 0 {
		return errdefs.InvalidParameter("No command specified")
	}
	if spec.CPUs < 0 || spec.MemoryMB < 0 || spec.DiskSize < 0 {
		return fmt.Errorf("container %s: negative resources: %w", spec.ID, errdefs.ErrInvalidParameter)
	}
	if spec.Name != "" && !namePattern.MatchString(spec.Name) {
		return fmt.Errorf("container %s: VM name %q: use [A-Za-z0-9_.-]: %w", spec.ID, spec.Name, errdefs.ErrInvalidParameter)
	}
	all, err := p.list(ctx)
	if err != nil {
		return err
	}
	for _, c := range all {
		if c.spec.ID == spec.ID {
			return fmt.Errorf("container %s: %w", spec.ID, errdefs.ErrAlreadyExists)
		}
		if c.name == vmName(spec) {
			// vCenter refuses it too (DuplicateName); the simulator does not.
			return errdefs.New(errdefs.ErrAlreadyExists, fmt.Sprintf("container %s: VM name %s is taken by container %s", spec.ID, c.name, c.spec.ID))
		}
	}
	specVal, err := encode(spec)
	if err != nil {
		return err
	}
	devices, disks, err := p.devices(ctx, spec)
	if err != nil {
		p.undoWritable(ctx, spec.ID)
		return err
	}
	// From here the writable layer exists: every failure removes it.
	made := false
	defer func() {
		if !made {
			p.undoWritable(ctx, spec.ID)
		}
	}()
	cs := types.VirtualMachineConfigSpec{
		Name:     vmName(spec),
		GuestId:  string(types.VirtualMachineGuestOsIdentifierOtherLinux64Guest),
		NumCPUs:  int32(p.cpus(spec)),
		MemoryMB: p.memory(spec),
		Files:    &types.VirtualMachineFileInfo{VmPathName: "[" + p.cfg.Datastore + "]"},
		ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: KeyVCH, Value: p.cfg.VCH},
			&types.OptionValue{Key: KeyID, Value: spec.ID},
			&types.OptionValue{Key: KeySpec, Value: specVal},
			&types.OptionValue{Key: KeyDisks, Value: disks},
		},
		DeviceChange: devices,
	}
	if p.hub != nil {
		keys, err := p.tetherKeys(spec)
		if err != nil {
			return fmt.Errorf("container %s: tether config: %w", spec.ID, err)
		}
		cs.ExtraConfig = append(cs.ExtraConfig, keys...)
	}
	if len(p.cfg.Backing) > 0 {
		run, err := json.Marshal(p.cfg.Backing)
		if err != nil {
			return err
		}
		cs.ExtraConfig = append(cs.ExtraConfig,
			&types.OptionValue{Key: "RUN.container", Value: string(run)},
			&types.OptionValue{Key: "RUN.network", Value: "host"},
			&types.OptionValue{Key: "RUN.mountdmi", Value: "false"})
	}
	task, err := p.s.Folder.CreateVM(ctx, cs, p.s.Pool, nil)
	if err != nil {
		return fmt.Errorf("container %s: create VM: %w", spec.ID, vsession.Classify(err))
	}
	if err := p.s.Wait(ctx, "container "+spec.ID+": create VM", task); err != nil {
		return err
	}
	made = true
	return nil
}

func (p *Provider) cpus(spec compute.Spec) int {
	if spec.CPUs > 0 {
		return spec.CPUs
	}
	return p.cfg.CPUs
}

func (p *Provider) memory(spec compute.Spec) int64 {
	if spec.MemoryMB > 0 {
		return spec.MemoryMB
	}
	return p.cfg.MemoryMB
}

// devices: a PVSCSI controller with the container's writable layer disk
// at unit 0 (when it has one) and one independent-persistent disk per
// distinct volume (kept when the VM is destroyed) at the next units, in
// the order of the volumes' names; the bootstrap ISO; and, with a serial
// concentrator, the three serial ports (serial.go). It also returns the
// value of KeyDisks: base64url(JSON) of proto.DiskRootKey and each
// volume's name to its disk's SCSI unit, for the guest to find them.
func (p *Provider) devices(ctx context.Context, spec compute.Spec) ([]types.BaseVirtualDeviceConfigSpec, string, error) {
	var list object.VirtualDeviceList
	scsi, err := list.CreateSCSIController("pvscsi")
	if err != nil {
		return nil, "", err
	}
	list = append(list, scsi)
	ctrl := scsi.(types.BaseVirtualController)
	units := map[string]int{}
	if list, err = p.addWritable(ctx, list, ctrl, spec); err != nil {
		return nil, "", err
	}
	if d := lastDisk(list); d != nil {
		units[proto.DiskRootKey] = int(*d.UnitNumber)
	}
	var volumes []string
	seen := map[string]bool{}
	for _, m := range spec.Mounts {
		if !seen[m.Volume] {
			seen[m.Volume] = true
			volumes = append(volumes, m.Volume)
		}
	}
	sort.Strings(volumes)
	for _, name := range volumes {
		if p.cfg.Volumes == nil {
			return nil, "", errdefs.NotImplemented("this VCH has no volume stores")
		}
		att, err := p.cfg.Volumes.Attach(ctx, name)
		if err != nil {
			return nil, "", fmt.Errorf("container %s: volume %s: %w", spec.ID, name, err)
		}
		if att.Disk == "" {
			return nil, "", errdefs.NotImplemented(fmt.Sprintf("volume %s: only disk volumes attach to vSphere VMs", name))
		}
		d := list.CreateDisk(ctrl, types.ManagedObjectReference{}, att.Disk)
		b := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		b.DiskMode = string(types.VirtualDiskModeIndependent_persistent)
		b.Datastore = nil
		list = append(list, d)
		units[name] = int(*d.UnitNumber)
	}
	if p.cfg.BootISO != "" {
		ide, err := list.CreateIDEController()
		if err != nil {
			return nil, "", err
		}
		list = append(list, ide)
		cd, err := list.CreateCdrom(ide.(*types.VirtualIDEController))
		if err != nil {
			return nil, "", err
		}
		list = append(list, list.InsertIso(cd, p.cfg.BootISO))
	}
	if p.hub != nil {
		for _, d := range p.serialPorts(vmName(spec)) {
			d.GetVirtualDevice().Key = list.NewKey()
			list = append(list, d)
		}
	}
	disks, err := encode(units)
	if err != nil {
		return nil, "", err
	}
	changes, err := list.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	return changes, disks, err
}

// lastDisk is the list's last device if it is a disk.
func lastDisk(list object.VirtualDeviceList) *types.VirtualDisk {
	if len(list) == 0 {
		return nil
	}
	d, _ := list[len(list)-1].(*types.VirtualDisk)
	return d
}

// Update replaces the definition's Meta.
func (p *Provider) Update(ctx context.Context, id string, meta []byte) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	c.spec.Meta = meta
	return p.writeSpec(ctx, c)
}

func (p *Provider) writeSpec(ctx context.Context, c *vm) error {
	val, err := encode(c.spec)
	if err != nil {
		return err
	}
	return p.reconfigure(ctx, c, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: KeySpec, Value: val}}})
}

func (p *Provider) writeRecord(ctx context.Context, c *vm, extra ...func(*types.VirtualMachineConfigSpec)) error {
	val, err := encode(c.rec)
	if err != nil {
		return err
	}
	cs := types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: KeyStatus, Value: val}}}
	for _, e := range extra {
		e(&cs)
	}
	return p.reconfigure(ctx, c, cs)
}

func (p *Provider) reconfigure(ctx context.Context, c *vm, cs types.VirtualMachineConfigSpec) error {
	task, err := object.NewVirtualMachine(p.s.Client, c.ref).Reconfigure(ctx, cs)
	if err != nil {
		return fmt.Errorf("container %s: reconfigure: %w", c.spec.ID, vsession.Classify(err))
	}
	return p.s.Wait(ctx, "container "+c.spec.ID+": reconfigure", task)
}

// Inspect reads one container.
func (p *Provider) Inspect(ctx context.Context, id string) (compute.Container, error) {
	c, err := p.find(ctx, id)
	if err != nil {
		return compute.Container{}, err
	}
	return compute.Container{Spec: c.spec, Status: c.status()}, nil
}

// List reads every container of this VCH, by ID.
func (p *Provider) List(ctx context.Context) ([]compute.Container, error) {
	all, err := p.list(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]compute.Container, 0, len(all))
	for _, c := range all {
		out = append(out, compute.Container{Spec: c.spec, Status: c.status()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.ID < out[j].Spec.ID })
	return out, nil
}

// SetResources changes the definition; the VM gets the new size at its
// next start (a running one keeps its size, as with qemu).
func (p *Provider) SetResources(ctx context.Context, id string, r compute.Resources) error {
	if r.CPUs < 0 || r.MemoryMB < 0 {
		return errdefs.InvalidParameter("negative CPUs or memory")
	}
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	if r.CPUs > 0 {
		c.spec.CPUs = r.CPUs
	}
	if r.MemoryMB > 0 {
		c.spec.MemoryMB = r.MemoryMB
	}
	return p.writeSpec(ctx, c)
}

// Remove destroys a VM that is not running; volume disks are independent
// and stay. A maintenance boot of the container (docker cp) is waited
// for first.
func (p *Provider) Remove(ctx context.Context, id string) error {
	return p.afterMaintenance(ctx, id, p.remove)
}

func (p *Provider) remove(ctx context.Context, id string) error {
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	if err := p.sweepMaintenance(ctx, c); err != nil {
		return err
	}
	if c.status().State == compute.StateRunning {
		return errdefs.Conflict(fmt.Sprintf("You cannot remove a running container %s. Stop the container before attempting removal or force remove", id))
	}
	if err := p.claim(id); err != nil {
		return err
	}
	defer p.release(id)
	if c.power != types.VirtualMachinePowerStatePoweredOff {
		// The process ended; the VM is not off yet.
		if err := p.powerOffIfOn(ctx, c); err != nil {
			return fmt.Errorf("container %s: power off: %w", id, err)
		}
	}
	if p.hub != nil {
		p.hub.dropControl(id)
	}
	if err := p.detachVolumes(ctx, c); err != nil {
		return err
	}
	if now, err := p.get(ctx, c.ref); err == nil {
		c = now // the exit as recorded by now
	}
	p.keepRemoved(id, c.status())
	task, err := object.NewVirtualMachine(p.s.Client, c.ref).Destroy(ctx)
	if err != nil {
		return fmt.Errorf("container %s: destroy VM: %w", id, vsession.Classify(err))
	}
	if err := p.s.Wait(ctx, "container "+id+": destroy VM", task); err != nil {
		return err
	}
	return p.removeWritable(ctx, id)
}

// removedKeep is how long a removed container's last status is kept for
// Wait(WaitRemoved) calls that see the VM gone.
const removedKeep = time.Minute

// keepRemoved records st as id's last status before its VM is destroyed
// (a poll of the VM cannot have seen it if the exit and the destroy fell
// between two polls).
func (p *Provider) keepRemoved(id string, st compute.Status) {
	kept := &st
	p.mu.Lock()
	p.removed[id] = kept
	p.mu.Unlock()
	time.AfterFunc(removedKeep, func() {
		p.mu.Lock()
		if p.removed[id] == kept {
			delete(p.removed, id)
		}
		p.mu.Unlock()
	})
}

// removedStatus returns the status keepRemoved kept for id.
func (p *Provider) removedStatus(id string) (compute.Status, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.removed[id]; st != nil {
		return *st, true
	}
	return compute.Status{}, false
}

// detachVolumes removes the volume disks from the VM's definition (not
// from the datastore), so destroying the VM cannot delete them.
func (p *Provider) detachVolumes(ctx context.Context, c *vm) error {
	if len(c.spec.Mounts) == 0 {
		return nil
	}
	devs, err := object.NewVirtualMachine(p.s.Client, c.ref).Device(ctx)
	if err != nil {
		return fmt.Errorf("container %s: devices: %w", c.spec.ID, vsession.Classify(err))
	}
	disks := devs.Select(func(d types.BaseVirtualDevice) bool {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			return false
		}
		b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		return ok && b.DiskMode == string(types.VirtualDiskModeIndependent_persistent)
	})
	if len(disks) == 0 {
		return nil
	}
	changes, err := disks.ConfigSpec(types.VirtualDeviceConfigSpecOperationRemove)
	if err != nil {
		return err
	}
	// ConfigSpec asks for a removed disk's file to be destroyed; a
	// volume's disk is only let go of.
	for _, ch := range changes {
		ch.GetVirtualDeviceConfigSpec().FileOperation = ""
	}
	return p.reconfigure(ctx, c, types.VirtualMachineConfigSpec{DeviceChange: changes})
}

// errMaint refuses a power operation while the container's VM is booted
// for maintenance (archive.go).
var errMaint = errdefs.Conflict("its files are being copied; try again")

// claim marks id busy with a power operation; a second one is refused.
func (p *Provider) claim(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.claimLocked(id)
}

func (p *Provider) claimLocked(id string) error {
	if p.maintDone[id] != nil {
		return fmt.Errorf("container %s: %w", id, errMaint)
	}
	if p.busy[id] {
		return errdefs.Conflict(fmt.Sprintf("container %s is starting or stopping", id))
	}
	p.busy[id] = true
	return nil
}

func (p *Provider) release(id string) {
	p.mu.Lock()
	delete(p.busy, id)
	p.mu.Unlock()
}

// claimMaintenance claims id for a maintenance boot: claim, and the
// channel endMaintenance closes.
func (p *Provider) claimMaintenance(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.claimLocked(id); err != nil {
		return err
	}
	p.maintDone[id] = make(chan struct{})
	return nil
}

// endMaintenance releases the claim of id's maintenance boot and wakes
// the operations waiting for its end.
func (p *Provider) endMaintenance(id string) {
	p.mu.Lock()
	delete(p.busy, id)
	if ch := p.maintDone[id]; ch != nil {
		close(ch)
		delete(p.maintDone, id)
	}
	p.mu.Unlock()
}

// maintaining tells whether a maintenance boot of id runs in this process.
func (p *Provider) maintaining(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.maintDone[id] != nil
}

// awaitMaintenance returns once id is in no maintenance boot, or with
// ctx's error.
func (p *Provider) awaitMaintenance(ctx context.Context, id string) error {
	p.mu.Lock()
	ch := p.maintDone[id]
	p.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("container %s: waiting for its files to be copied: %w", id, ctx.Err())
	}
}

// WithNetwork returns a provider like p whose VMs get NICs from na.
func (p *Provider) WithNetwork(na compute.NetworkAttacher) *Provider {
	cfg := p.cfg
	cfg.Network = na
	q, _ := New(cfg)
	return q
}
