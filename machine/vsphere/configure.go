package vsphere

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"

	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/internal/vice"
	"github.com/vchproject/vch/machine/certs"
	"github.com/vchproject/vch/machine/vchconfig"
)

// ConfigureOptions change an existing VCH; nil or empty fields stay.
type ConfigureOptions struct {
	CPU, Memory          *vice.Allocation
	AddVolumeStores      []string
	AddContainerNetworks []vice.ContainerNetwork
	OpsUser, OpsPassword *string
	Debug                *bool
	// Addressing changes the endpoint's --X-network-ip and -gateway, by
	// network ("public", "client", "management"); see AddressingChange.
	Addressing map[string]AddressingChange
	// DNS, when non-nil, replaces the endpoint's DNS servers (empty:
	// those of DHCP).
	DNS []string
	// CNames, when non-nil, replaces the extra server certificate names.
	CNames []string
	// CertPath is create's --cert-path: when the certificate's names or
	// the static addresses change, the CA key create kept there signs a
	// new server certificate (written there too).
	CertPath string
	// Insecure, Whitelist and Mirrors, when non-nil, replace the registry
	// lists of the same name (empty: none); RegistryCAs, when non-nil,
	// replaces the trusted registry CAs (PEM files; empty: none).
	Insecure, Whitelist, Mirrors []string
	RegistryCAs                  []string
}

// AddressingChange is one endpoint network's --X-network-ip and
// --X-network-gateway as given to configure; nil keeps what the VCH has.
// The address is the port group's: networks sharing the port group follow
// it. An IP of "" goes back to DHCP and drops the gateways on that port
// group (DHCP gives the gateway) unless one is given.
type AddressingChange struct{ IP, Gateway *string }

// ConfigureResult says what Configure did.
type ConfigureResult struct {
	Changed bool
	// NewServerCert: a new server certificate was signed (new names or
	// addresses).
	NewServerCert bool
	// Restarted: the endpoint VM was powered off and on again, so the
	// appliance reads the new config (it reads it once, at boot).
	Restarted bool
	// NeedsBoot: the change is for the appliance, whose VM is not powered
	// on; it reads the config when it is.
	NeedsBoot bool
}

// Configure validates the changes against the VCH, then makes new volume
// store folders, updates the pool and rewrites the endpoint VM's
// extraConfig; a failure undoes what it changed. Nothing changes when a
// check fails. When the appliance's part of the config changed (all but
// the pool's CPU and memory, which vSphere applies itself) and the
// endpoint VM is powered on, it power-cycles the VM: the appliance reads
// its config once, at boot; vchd's state is on the datastore and container
// VMs keep running, their serial ports reconnecting to the new vchd.
func (s *Session) Configure(ctx context.Context, v *VCH, o ConfigureOptions) (ConfigureResult, error) {
	var res ConfigureResult
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
			return res, err
		}
		changed = changed || c.Resources != v.Config.Resources
	}
	if len(o.Addressing) > 0 || o.DNS != nil {
		addr, err := mergeAddressing(c.Network, o.Addressing)
		if err != nil {
			return res, err
		}
		dns := c.Network.DNS
		if o.DNS != nil && !slices.Equal(o.DNS, dns) {
			dns = o.DNS
		}
		if err := planAddressing(&c.Network, addr, dns); err != nil {
			return res, err
		}
	}
	if o.CNames != nil && !slices.Equal(o.CNames, c.TLS.CNames) {
		c.TLS.CNames = o.CNames
	}
	if o.Insecure != nil || o.Whitelist != nil || o.Mirrors != nil || o.RegistryCAs != nil {
		r := c.Registry
		for _, l := range []struct{ dst, src *[]string }{{&r.Insecure, &o.Insecure}, {&r.Whitelist, &o.Whitelist}, {&r.Mirrors, &o.Mirrors}} {
			if *l.src != nil && !slices.Equal(*l.dst, *l.src) {
				*l.dst = *l.src
			}
		}
		ca, err := vchconfig.ValidateRegistry(vchconfig.Registry{Insecure: r.Insecure, Whitelist: r.Whitelist, Mirrors: r.Mirrors}, o.RegistryCAs)
		if err != nil {
			return res, err
		}
		if o.RegistryCAs != nil {
			r.CA = ""
			if len(ca) > 0 {
				r.CA = vice.EncodePEM(ca)
			}
		}
		c.Registry = r
	}
	var serverCert, serverKey []byte
	if !c.TLS.NoTLS && (!slices.Equal(c.TLS.CNames, v.Config.TLS.CNames) || !sameAddresses(c.Network, v.Config.Network)) {
		var err error
		if serverCert, serverKey, err = reissue(&c, o.CertPath); err != nil {
			return res, err
		}
		res.NewServerCert = true
	}
	stores, err := ParseVolumeStores(o.AddVolumeStores)
	if err != nil {
		return res, err
	}
	p := &planned{volumeDS: map[string]*object.Datastore{}, volumeDirs: map[string]string{}}
	for _, vs := range stores {
		for _, old := range c.Storage.Volumes {
			if old.Label == vs.Label {
				return res, fmt.Errorf("--volume-store: VCH %s already has a store labelled %s", c.Name, vs.Label)
			}
		}
		ds, err := s.Datastore(ctx, vs.Datastore)
		if err != nil {
			return res, fmt.Errorf("--volume-store %s: %w", vs.Label, err)
		}
		p.volumeDS[vs.Label] = ds
		p.volumeDirs[vs.Label] = path.Join(vs.Path, "volumes")
	}
	if len(stores) > 0 {
		c.Storage.Volumes = append(append([]vice.VolumeStore{}, c.Storage.Volumes...), stores...)
	}
	for _, cn := range o.AddContainerNetworks {
		ref, err := s.Network(ctx, "--container-network", cn.PortGroup.Name)
		if err != nil {
			return res, err
		}
		if cn.PortGroup.Name == c.Network.Bridge.Name {
			return res, fmt.Errorf("--container-network %s is the bridge network: choose another port group", cn.PortGroup.Name)
		}
		for _, old := range c.Network.Containers {
			if old.Alias == cn.Alias || old.PortGroup.Name == cn.PortGroup.Name {
				return res, fmt.Errorf("--container-network %s:%s: VCH %s already has %s:%s", cn.PortGroup.Name, cn.Alias, c.Name, old.PortGroup.Name, old.Alias)
			}
		}
		cn.PortGroup.ID = ref.Reference().Value
		c.Network.Containers = append(append([]vice.ContainerNetwork{}, c.Network.Containers...), cn)
		changed = true
	}
	if o.OpsUser != nil && *o.OpsUser != c.Ops.User {
		if c.Ops.GrantPerms {
			return res, fmt.Errorf("--ops-user: VCH %s's permissions were granted to %s at create; delete and create it again to grant them to %s", c.Name, c.Ops.User, *o.OpsUser)
		}
		if o.OpsPassword == nil || *o.OpsPassword == "" {
			return res, fmt.Errorf("--ops-user %s needs --ops-password", *o.OpsUser)
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
			return res, err
		}
		c.Storage.Made = append(append([]string{}, c.Storage.Made...), p.made()...)
	}
	boot := !sameForAppliance(v.Config, &c)
	if !changed && !boot {
		return res, nil
	}

	var u undoStack
	fail := func(err error) (ConfigureResult, error) {
		if uerr := u.run(ctx, s.log); uerr != nil {
			return ConfigureResult{}, fmt.Errorf("%w (and the cleanup failed: %v)", err, uerr)
		}
		return ConfigureResult{}, err
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
	if serverCert != nil {
		if err := writeServerCert(o.CertPath, serverCert, serverKey, &u); err != nil {
			return fail(err)
		}
	}
	if err := s.writeConfig(ctx, v, &c); err != nil {
		return fail(err)
	}
	s.log.Info("VCH reconfigured", zap.String("vch", c.Name))
	v.Config = &c
	res.Changed = true
	if !boot {
		return res, nil
	}
	var m mo.VirtualMachine
	if err := s.propertiesOf(ctx, v.VM.Reference(), []string{"runtime.powerState"}, &m); err != nil {
		return res, fmt.Errorf("VCH %s reconfigured, but the power state of its endpoint VM %s is unknown (restart it to apply the change): %w", c.Name, v.ID, err)
	}
	v.PowerState = m.Runtime.PowerState
	if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		res.NeedsBoot = true
		return res, nil
	}
	// No VMware Tools in the appliance: no guest shutdown, a power-off.
	if err := waitTask(ctx, v.VM.PowerOff); err != nil {
		return res, fmt.Errorf("VCH %s reconfigured, but powering off its endpoint VM %s to apply it failed (power it off and on to apply the change): %w", c.Name, v.ID, err)
	}
	v.PowerState = types.VirtualMachinePowerStatePoweredOff
	if err := waitTask(ctx, v.VM.PowerOn); err != nil {
		return res, fmt.Errorf("VCH %s reconfigured and its endpoint VM %s powered off, but powering it on failed (power it on): %w", c.Name, v.ID, err)
	}
	v.PowerState = types.VirtualMachinePowerStatePoweredOn
	s.log.Info("endpoint VM restarted to apply the new config", zap.String("vch", c.Name), zap.String("vm", v.ID))
	res.Restarted = true
	return res, nil
}

// sameForAppliance: a and b differ in nothing the appliance reads (the
// pool's CPU and memory are vSphere's to apply).
func sameForAppliance(a, b *vice.Config) bool {
	x, y := *a, *b
	x.Resources, y.Resources = vice.Resources{}, vice.Resources{}
	return reflect.DeepEqual(x, y)
}

// sameAddresses: the endpoint's static addresses, which the server
// certificate names, are the same in a and b.
func sameAddresses(a, b vice.Network) bool {
	return a.Public.IP == b.Public.IP && a.Client.IP == b.Client.IP && a.Management.IP == b.Management.IP
}

// mergeAddressing is the VCH's addressing in create's terms (each
// network's gateway; the address on the first network of each port group
// and on those with a gateway) with the changes applied.
func mergeAddressing(n vice.Network, ch map[string]AddressingChange) (map[string]NetworkAddressing, error) {
	nets := []struct {
		flag string
		e    vice.EndpointNetwork
	}{{"public", n.Public}, {"client", n.Client}, {"management", n.Management}}
	addr := map[string]NetworkAddressing{}
	first := map[string]bool{}
	for _, x := range nets {
		a := NetworkAddressing{Gateway: x.e.Gateway}
		if !first[x.e.Name] || x.e.Gateway != "" {
			a.IP = x.e.IP
		}
		first[x.e.Name] = true
		addr[x.flag] = a
	}
	given := map[string]string{} // port group -> the network whose IP was given
	for _, x := range nets {
		c, ok := ch[x.flag]
		if !ok || c.IP == nil {
			continue
		}
		if prev, ok := given[x.e.Name]; ok && *ch[prev].IP != *c.IP {
			return nil, fmt.Errorf("--%s-network-ip %q and --%s-network-ip %q: both networks are on port group %s, whose address the endpoint's NIC has (give one)", prev, *ch[prev].IP, x.flag, *c.IP, x.e.Name)
		}
		given[x.e.Name] = x.flag
		for _, y := range nets {
			if y.e.Name != x.e.Name {
				continue
			}
			a := addr[y.flag]
			if y.flag == x.flag || a.IP != "" {
				a.IP = *c.IP
			}
			if *c.IP == "" {
				a.Gateway = ""
			}
			addr[y.flag] = a
		}
	}
	for _, x := range nets {
		if c := ch[x.flag]; c.Gateway != nil {
			a := addr[x.flag]
			a.Gateway = *c.Gateway
			addr[x.flag] = a
		}
	}
	return addr, nil
}

// reissue signs a server certificate for c's names and addresses with the
// VCH's CA, whose key create kept in certPath, and sets it in c.
func reissue(c *vice.Config, certPath string) (cert, key []byte, err error) {
	if certPath == "" {
		return nil, nil, fmt.Errorf("no --cert-path: the VCH's CA key, kept in create's --cert-path, signs the server certificate for the new names")
	}
	caPEM, err := os.ReadFile(filepath.Join(certPath, certs.CA))
	if err != nil {
		return nil, nil, fmt.Errorf("--cert-path %s: %w: give the folder create wrote VCH %s's certificates to; the server certificate for the new names is signed by its CA", certPath, err, c.Name)
	}
	if vice.EncodePEM(caPEM) != c.TLS.CACert {
		return nil, nil, fmt.Errorf("--cert-path %s: its %s is not VCH %s's CA: give the folder create wrote the VCH's certificates to", certPath, certs.CA, c.Name)
	}
	caKey, err := os.ReadFile(filepath.Join(certPath, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("--cert-path %s has no CA key %s (%w): the server certificate for the new names is signed with VCH %s's CA key; nothing changed", certPath, CAKeyFile, err, c.Name)
	}
	if cert, key, err = certs.IssueServer(caPEM, caKey, serverNames(c.Name, c.Network, c.TLS.CNames)); err != nil {
		return nil, nil, fmt.Errorf("--cert-path %s: %w", certPath, err)
	}
	c.TLS.ServerCert, c.TLS.ServerKey = vice.EncodePEM(cert), vice.EncodePEM(key)
	return cert, key, nil
}

// writeServerCert replaces the server certificate and key in certPath
// (as create left them there) and pushes putting the old ones back.
func writeServerCert(certPath string, cert, key []byte, u *undoStack) error {
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{certs.ServerCert, cert, 0o644}, {certs.ServerKey, key, 0o600}} {
		p := filepath.Join(certPath, f.name)
		old, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--cert-path: %w", err)
		}
		if err := atomicfile.WriteFile(p, f.data, f.mode); err != nil {
			return fmt.Errorf("--cert-path: new server certificate: %w", err)
		}
		mode := f.mode
		u.push(p, func(context.Context) error {
			if old == nil {
				return os.Remove(p)
			}
			return atomicfile.WriteFile(p, old, mode)
		})
	}
	return nil
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
