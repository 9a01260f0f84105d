package vice

import (
	"encoding/base64"
	"fmt"
)

// Prefix starts every key of the schema.
const Prefix = "guestinfo.vice."

// KeyKey holds the VCH's secret key (base64url, 32 bytes).
const KeyKey = "guestinfo.vice.key"

// Config is one VCH on vSphere. Field tags name the keys (see package doc).
type Config struct {
	Name    string `vice:"name"`
	Version string `vice:"version"`
	// Target is the vCenter or ESXi host the VCH talks to (host[:port]) and
	// Thumbprint its certificate's SHA-1 thumbprint (AA:BB:…).
	Target     string `vice:"target"`
	Thumbprint string `vice:"thumbprint"`
	Datacenter string `vice:"datacenter"` // inventory path, /DC
	// ComputeResource is the inventory path of the pool the VCH's pool was
	// made in (/DC/host/cluster/Resources); Pool the VCH's own pool.
	ComputeResource string `vice:"compute"`
	Pool            string `vice:"pool"`
	// PoolKind is "pool" or "vapp".
	PoolKind string `vice:"poolkind"`

	Ops       Ops       `vice:"ops"`
	TLS       TLS       `vice:"tls"`
	Storage   Storage   `vice:"storage"`
	Network   Network   `vice:"network"`
	Resources Resources `vice:"resources"`
	Container Container `vice:"container"`
	Registry  Registry  `vice:"registry"`

	// ISO are the endpoint VM's folder's boot images, "[ds] NAME/x.iso"
	// ("" when vic-machine had none to upload).
	ISO ISO `vice:"iso"`

	Debug bool `vice:"debug"`
	// CreatedAt is RFC 3339, UTC.
	CreatedAt string `vice:"created"`
	// Upgrade holds what an upgrade replaced, for `upgrade --rollback`.
	PreviousVersion string `vice:"previousversion"`
	PreviousISO     ISO    `vice:"previousiso"`
}

// ISO names the uploaded images: the appliance the endpoint VM boots and
// the bootstrap image container VMs boot.
type ISO struct {
	Appliance string `vice:"appliance"`
	Bootstrap string `vice:"bootstrap"`
}

// Ops is the vSphere user the VCH acts as.
type Ops struct {
	User     string `vice:"user"`
	Password string `vice:"password,secret"`
	// GrantPerms: vic-machine granted the user its permissions.
	GrantPerms bool   `vice:"grantperms"`
	Role       string `vice:"role"`
	// Granted are the objects (Type:value) vic-machine gave the user the
	// role on, besides the VCH's pool; delete takes back only these.
	Granted []string `vice:"granted"`
}

// Storage places images and volumes on datastores.
type Storage struct {
	Image   Datastore     `vice:"image"`
	Volumes []VolumeStore `vice:"volume"`
	// BaseImageSize is each container's writable layer, bytes.
	BaseImageSize int64 `vice:"baseimagesize"`
	// Made are the topmost folders create made, "[ds] path" (delete
	// removes them unless a kept volume store or another VCH is inside).
	Made []string `vice:"made"`
}

// Datastore is a folder on a datastore.
type Datastore struct {
	Datastore string `vice:"datastore"`
	Path      string `vice:"path"` // folder, no leading slash
}

// DSPath is "[datastore] path".
func (d Datastore) DSPath() string {
	if d.Path == "" {
		return "[" + d.Datastore + "]"
	}
	return "[" + d.Datastore + "] " + d.Path
}

// VolumeStore is a labelled datastore folder; its volumes live under
// PATH/volumes/NAME/.
type VolumeStore struct {
	Label     string `vice:"label"`
	Datastore string `vice:"datastore"`
	Path      string `vice:"path"`
}

// Location is the store's folder.
func (v VolumeStore) Location() Datastore { return Datastore{Datastore: v.Datastore, Path: v.Path} }

// TLS is the Docker API's TLS material, made by vic-machine create and
// written to files by the appliance. PEM values are kept base64url
// (unpadded) encoded, so a value holds no newline or space (see EncodePEM).
type TLS struct {
	// CACert is the CA whose client certificates the API accepts (the
	// VCH's own CA, plus any --tls-ca), PEM, encoded.
	CACert string `vice:"ca"`
	// ServerCert and ServerKey are the API's certificate and key, PEM,
	// encoded; the key is a secret.
	ServerCert string `vice:"cert"`
	ServerKey  string `vice:"serverkey,secret"`
	// NoTLS serves plain HTTP; NoTLSVerify requires no client
	// certificate (both loud).
	NoTLS       bool `vice:"notls"`
	NoTLSVerify bool `vice:"notlsverify"`
	// CNames are the extra server certificate names (--tls-cname).
	CNames []string `vice:"cname"`
}

// EncodePEM is how TLS keeps PEM text; DecodePEM reverses it.
func EncodePEM(pem []byte) string { return base64.RawURLEncoding.EncodeToString(pem) }

// DecodePEM returns the PEM text of a TLS field ("" gives nil).
func DecodePEM(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("vice: PEM value: %w", err)
	}
	return b, nil
}

// Network maps the VCH's networks to port groups (names as the user gave
// them; IDs are the managed object references, dvportgroup-12, network-7).
type Network struct {
	Bridge      PortGroup       `vice:"bridge"`
	Public      EndpointNetwork `vice:"public"`
	Client      EndpointNetwork `vice:"client"`
	Management  EndpointNetwork `vice:"management"`
	BridgeRange string          `vice:"bridgerange"`
	// BridgeMAC is the fixed MAC of the endpoint's NIC on the bridge port
	// group (its leg there: the bridge network's gateway and NAT), how
	// the appliance finds that NIC; "" in configs of older vic-machines.
	BridgeMAC string `vice:"bridgemac"`
	// DNS are the endpoint VM's DNS servers (--dns-server); none: those
	// DHCP gives.
	DNS []string `vice:"dns"`
	// Container networks: docker networks that are port groups.
	Containers []ContainerNetwork `vice:"container"`
}

// EndpointNetwork is one of the endpoint VM's networks (public, client,
// management): its port group and the endpoint's NIC on it. Networks on
// the same port group share one NIC (the same MAC).
type EndpointNetwork struct {
	Name string `vice:"name"`
	ID   string `vice:"id"`
	// IP is the NIC's static address, CIDR (10.0.0.5/24); "" : DHCP.
	IP string `vice:"ip"`
	// Gateway: on the public network the default gateway (an IP); on
	// client and management "DEST[,DEST…]:GATEWAY", routes to those
	// destinations (CIDRs) through GATEWAY, as VIC had them.
	Gateway string `vice:"gateway"`
	// MAC is the NIC's fixed address (00:50:56:xx:xx:xx, VMware's static
	// range), how the appliance finds the NIC.
	MAC string `vice:"mac"`
}

// PortGroup is the network's port group.
func (e EndpointNetwork) PortGroup() PortGroup { return PortGroup{Name: e.Name, ID: e.ID} }

// PortGroup is a network's name and reference.
type PortGroup struct {
	Name string `vice:"name"`
	ID   string `vice:"id"`
}

// ContainerNetwork is one --container-network with its settings.
type ContainerNetwork struct {
	PortGroup PortGroup `vice:"portgroup"`
	Alias     string    `vice:"alias"` // the docker network's name
	Gateway   string    `vice:"gateway"`
	IPRange   string    `vice:"iprange"`
	DNS       []string  `vice:"dns"`
	Firewall  string    `vice:"firewall"`
}

// Registry is how the VCH reaches image registries (vic-machine create's
// --insecure-registry, --whitelist-registry, --registry-mirror and
// --registry-ca).
type Registry struct {
	// Insecure registries (host[:port] or CIDR): TLS unverified, or HTTP.
	Insecure []string `vice:"insecure"`
	// Whitelist, if set, is the only registries the VCH may use.
	Whitelist []string `vice:"whitelist"`
	// Mirrors of Docker Hub, tried in order (http[s]://host[:port]).
	Mirrors []string `vice:"mirrors"`
	// CA holds the PEM certificates of --registry-ca, encoded (EncodePEM).
	CA string `vice:"ca"`
}

// Resources are the VCH pool's settings (MHz, MB; 0 limit = unlimited).
type Resources struct {
	CPU    Allocation `vice:"cpu"`
	Memory Allocation `vice:"memory"`
}

// Allocation of one resource: Limit -1 or 0 means unlimited; Shares is
// low, normal, high or a number.
type Allocation struct {
	Limit       int64  `vice:"limit"`
	Reservation int64  `vice:"reservation"`
	Shares      string `vice:"shares"`
}

// Container holds per-container defaults.
type Container struct {
	NameConvention string `vice:"nameconvention"`
	CPUs           int    `vice:"cpus"`
	MemoryMB       int64  `vice:"memorymb"`
}
