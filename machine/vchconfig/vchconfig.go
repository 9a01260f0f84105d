// Package vchconfig is the on-disk configuration of one VCH, written by
// vic-machine create and read by vchd at start. Everything a VCH owns lives
// under Config.Root; the file itself is Root/config.json.
package vchconfig

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/vchproject/vch/internal/atomicfile"
)

// FileName is the config file's name inside a VCH's root.
const FileName = "config.json"

// Process files inside a VCH's root.
const (
	// LockFile is held (flock) by the one vchd serving the VCH.
	LockFile = "vchd.lock"
	// PidFile names the running vchd; written by vchd once it holds
	// LockFile. Only a held lock makes the pid in it count.
	PidFile = "vchd.pid"
	// SupervisorLockFile is held by the VCH's supervisor process.
	SupervisorLockFile = "supervisor.lock"
	// CgroupFile records the cgroup of the VCH's processes (vchd and
	// its container VMs), written by vchd.
	CgroupFile = "cgroup.json"
	// LogFile is vchd's (and its supervisor's) log.
	LogFile = "vchd.log"
)

// ExitAlreadyRunning is vchd's exit code when another vchd holds the
// VCH's lock: restarting it would not help.
const ExitAlreadyRunning = 3

// Config describes one VCH.
type Config struct {
	Name    string `json:"name"`
	Root    string `json:"root"`    // state directory of this VCH
	APIAddr string `json:"apiAddr"` // listen address of the Docker API, e.g. "0.0.0.0:2376"

	// TLS material (paths). With NoTLS the API is plain HTTP (loud).
	CACert     string `json:"caCert"`
	ServerCert string `json:"serverCert"`
	ServerKey  string `json:"serverKey"`
	NoTLS      bool   `json:"noTLS,omitempty"`
	// NoTLSVerify serves TLS without requiring client certificates (loud).
	NoTLSVerify bool `json:"noTLSVerify,omitempty"`
	// ClientCAFile holds the PEM CAs given with --tls-ca (a copy under
	// Root): client certificates they signed are accepted besides those of
	// the VCH's own CA. TLSCAFiles are the files as given.
	ClientCAFile string   `json:"clientCAFile,omitempty"`
	TLSCAFiles   []string `json:"tlsCAFiles,omitempty"`
	// TLSCNames are the extra server certificate names given at create.
	TLSCNames []string `json:"tlsCNames,omitempty"`

	KernelDir  string `json:"kernelDir"`  // fetched guest kernel (scripts/fetch-kernel.sh)
	TetherPath string `json:"tetherPath"` // static tether binary packed into the initramfs
	Accel      string `json:"accel"`      // auto, kvm or tcg

	MemoryMB      int64 `json:"memoryMB"`      // default memory of a container VM
	CPUs          int   `json:"cpus"`          // default vCPUs of a container VM
	BaseImageSize int64 `json:"baseImageSize"` // writable layer cap in bytes

	// TCGTBSizeMB caps each VM's TCG translation cache (MB); 0: the
	// provider's default.
	TCGTBSizeMB int `json:"tcgTBSizeMB,omitempty"`
	// TCGTBSizeClonesMB is TCGTBSizeMB for template clones; 0: the
	// provider's default.
	TCGTBSizeClonesMB int `json:"tcgTBSizeClonesMB,omitempty"`
	// GuestMemory is how guest RAM is backed ("anon" or "memfd"); empty:
	// the provider's default.
	GuestMemory string `json:"guestMemory,omitempty"`
	// KSM: vchd turns the host's ksmd on at start (opt-in: it is a
	// host-wide setting; QEMU already marks guest RAM mergeable).
	KSM bool `json:"ksm,omitempty"`
	// Templates starts containers as clones of a saved
	// template VM. nil (a config written before templates were the
	// default, or by hand): on; see TemplatesOn.
	Templates *bool `json:"templates,omitempty"`

	// VolumeStores are where volumes live; the one labelled "default"
	// holds anonymous volumes.
	VolumeStores []VolumeStore `json:"volumeStores,omitempty"`
	// BindAllow are the host directories under which containers may bind
	// mount (-v /host/dir:/path, --mount type=bind); none: no bind mounts.
	BindAllow []string `json:"bindAllow,omitempty"`

	Debug bool `json:"debug,omitempty"`

	// SyslogAddress (udp://host:port or tcp://host:port) also receives
	// the containers' output; empty: none.
	SyslogAddress string `json:"syslogAddress,omitempty"`

	// Firewall is the host firewall policy of the API port set by
	// vic-machine update firewall: "allow", "deny" or "" (no rule).
	Firewall string `json:"firewall,omitempty"`

	// ContainerNameConvention names container VMs and their processes,
	// e.g. "myteam-{name}" ({name}: the container's name, {id}: its short
	// ID); empty: the provider's default.
	ContainerNameConvention string `json:"containerNameConvention,omitempty"`

	// BridgeNetworkRange is where the bridge network's /16 comes from
	// (CIDR); empty: 172.16.0.0/12.
	BridgeNetworkRange string `json:"bridgeNetworkRange,omitempty"`
	// BridgeNetworkIPv6Range is the bridge network's IPv6 subnet (CIDR,
	// at most /120); empty: the bridge is IPv4-only.
	BridgeNetworkIPv6Range string `json:"bridgeNetworkIPv6Range,omitempty"`

	// Limits cap the whole VCH: all its container VMs (and vchd) share
	// them through one cgroup.
	Limits Limits `json:"limits,omitempty"`
	// ContainerNetworks are host bridges containers join directly
	// (--container-network and its companions).
	ContainerNetworks []ContainerNetwork `json:"containerNetworks,omitempty"`

	Registry Registry `json:"registry,omitempty"`
	// RegistryCAFiles are the --registry-ca files as given at create
	// (their content is in Registry.CAFile).
	RegistryCAFiles []string `json:"registryCAFiles,omitempty"`

	// Providers names the port layer's implementations (see
	// portlayer/registry); empty names: qemu compute, local stores and
	// network.
	Providers Providers `json:"providers,omitempty"`
	// VSphere is where a VCH whose providers are "vsphere" lives.
	VSphere *VSphere `json:"vsphere,omitempty"`
}

// Providers names one implementation per kind of port-layer provider.
type Providers struct {
	Compute string `json:"compute,omitempty"` // qemu, vsphere
	Images  string `json:"images,omitempty"`  // local, vsphere
	Volumes string `json:"volumes,omitempty"` // local, vsphere
	Network string `json:"network,omitempty"` // local, vsphere, none
}

// VSphere places a VCH on vCenter/ESXi. On vSphere the VolumeStores'
// paths are datastore paths, "[datastore] folder".
type VSphere struct {
	// URL is the SDK endpoint, https://host/sdk; User and Password log
	// in (the password may also come from VCH_VSPHERE_PASSWORD).
	URL      string `json:"url"`
	User     string `json:"user"`
	Password string `json:"password,omitempty"`
	// Thumbprint is the endpoint certificate's SHA-1 thumbprint; Insecure
	// skips verification (tests against govmomi's simulator).
	Thumbprint string `json:"thumbprint,omitempty"`
	Insecure   bool   `json:"insecure,omitempty"`
	Datacenter string `json:"datacenter"`       // inventory path, /DC0
	Pool       string `json:"pool"`             // the VCH's resource pool
	Folder     string `json:"folder,omitempty"` // VM folder; empty: the datacenter's
	// ImageDatastore holds the container VMs' files.
	ImageDatastore string `json:"imageDatastore"`
	// ImageFolder is the folder on ImageDatastore of the vsphere image
	// store's layers, PATH/VIC/<vch-id>/images (made by vic-machine
	// create; --image-store DATASTORE[/PATH]).
	ImageFolder string `json:"imageFolder,omitempty"`
	// BridgePortGroup is the port group of the "bridge" network's NICs;
	// other networks' NICs go to the port group of their host-side name.
	BridgePortGroup string `json:"bridgePortGroup,omitempty"`
	// BootISO is the datastore path of the bootstrap ISO, if uploaded.
	BootISO string `json:"bootISO,omitempty"`
	// TaskTimeoutSeconds bounds each vSphere task; 0: 5 minutes.
	TaskTimeoutSeconds int `json:"taskTimeoutSeconds,omitempty"`
	// Serial is the listen address (host:port) of the serial
	// concentrator the container VMs' tethers connect to (ESXi: network
	// serial ports telnet://ADDR); empty: no tether transport, so logs,
	// exec, signals, top and stats answer "not implemented".
	Serial string `json:"serial,omitempty"`
	// SerialAddr is the address the VMs dial, if not Serial's (a
	// wildcard listen address).
	SerialAddr string `json:"serialAddr,omitempty"`
	// Backing, for govmomi's simulator only, backs each container VM
	// with a docker container (RUN.container: image and arguments).
	Backing []string `json:"simBacking,omitempty"`
	// EndpointVM names the VM vchd runs in (the VCH's endpoint VM, on the
	// appliance): it gets a NIC on each user-defined network's port group
	// as the network's gateway. "": vchd runs elsewhere, no such NICs.
	EndpointVM string `json:"endpointVM,omitempty"`
}

// Limits are the VCH-wide resource settings of VIC's resource pool. Zero
// values mean no limit, no reservation and normal shares.
type Limits struct {
	CPU               CPU    `json:"cpu,omitempty"`
	CPUReservation    CPU    `json:"cpuReservation,omitempty"`
	CPUShares         string `json:"cpuShares,omitempty"` // low, normal, high or a number
	MemoryMB          int64  `json:"memoryMB,omitempty"`
	MemoryReservation int64  `json:"memoryReservationMB,omitempty"` // MB
	MemoryShares      string `json:"memoryShares,omitempty"`        // low, normal, high or a number
}

// CPU is an amount of CPU as given: MHz (VIC's unit) or thousandths of a
// core. At most one is set; both zero: none.
type CPU struct {
	MHz        int64 `json:"mhz,omitempty"`
	MilliCores int64 `json:"milliCores,omitempty"`
}

// IsZero reports an unset amount.
func (c CPU) IsZero() bool { return c.MHz == 0 && c.MilliCores == 0 }

// String renders c the way vic-machine accepts it: "2000MHz", "1.5cores".
func (c CPU) String() string {
	switch {
	case c.MHz != 0:
		return fmt.Sprintf("%dMHz", c.MHz)
	case c.MilliCores == 1000:
		return "1core"
	case c.MilliCores%1000 == 0:
		return fmt.Sprintf("%dcores", c.MilliCores/1000)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", float64(c.MilliCores)/1000), "0"), ".") + "cores"
	}
}

// VolumeStore is one --volume-store PATH:LABEL.
type VolumeStore struct {
	Path  string `json:"path"`
	Label string `json:"label"`
}

// Registry is how the VCH reaches image registries.
type Registry struct {
	// Insecure registries (host[:port] or CIDR): TLS unverified, or HTTP.
	Insecure []string `json:"insecure,omitempty"`
	// CAFile holds the PEM CAs given with --registry-ca, trusted besides
	// the system's (a copy under Root).
	CAFile string `json:"caFile,omitempty"`
	// Whitelist, if set, is the only registries the VCH may use
	// (host[:port], CIDR or *.domain).
	Whitelist []string `json:"whitelist,omitempty"`
	// Mirrors of Docker Hub, tried in order (http[s]://host[:port]).
	Mirrors []string `json:"mirrors,omitempty"`
}

// ValidateRegistryPattern checks a whitelist or insecure-registry entry:
// "host[:port]", a CIDR or "*.domain".
func ValidateRegistryPattern(p string) error {
	bad := fmt.Errorf("invalid registry %q: want host[:port], a CIDR or *.domain", p)
	switch {
	case p == "", strings.ContainsAny(p, " @?#"), p == "*.", strings.Contains(p, "*") && !strings.HasPrefix(p, "*."):
		return bad
	case strings.Contains(p, "/"):
		if _, _, err := net.ParseCIDR(p); err != nil {
			return bad
		}
	}
	return nil
}

// ValidateMirror checks a registry mirror URL: http or https, a host, no
// path.
func ValidateMirror(m string) error {
	u, err := url.Parse(m)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.User != nil {
		return fmt.Errorf("invalid registry mirror %q: want http[s]://host[:port]", m)
	}
	return nil
}

// TemplatesOn reports whether containers start as template clones: they
// do unless the config says "templates": false.
func (c *Config) TemplatesOn() bool { return c.Templates == nil || *c.Templates }

// Path returns the config file path for a VCH root.
func Path(root string) string { return filepath.Join(root, FileName) }

// Load reads a config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read VCH config: %w", err)
	}
	c := new(Config)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("decode VCH config %s: %w", path, err)
	}
	if c.Name == "" || c.Root == "" || c.APIAddr == "" {
		return nil, fmt.Errorf("VCH config %s: name, root and apiAddr are required", path)
	}
	return c, nil
}

// Save writes the config atomically and durably.
func (c *Config) Save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("save VCH config: %w", err)
	}
	return nil
}

// ValidateNameConvention checks a --container-name-convention: it holds
// {name} or {id}, and otherwise letters, digits, '_', '.' and '-'.
func ValidateNameConvention(c string) error {
	if !strings.Contains(c, "{name}") && !strings.Contains(c, "{id}") {
		return fmt.Errorf("--container-name-convention %q has neither {name} nor {id}: use e.g. myteam-{name}", c)
	}
	rest := strings.NewReplacer("{name}", "", "{id}", "").Replace(c)
	if len(c) > 48 || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != "" {
		return fmt.Errorf("--container-name-convention %q: use at most 48 letters, digits, '_', '.', '-' around {name} and {id}, e.g. myteam-{name}", c)
	}
	return nil
}
