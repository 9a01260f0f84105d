// Package proto is the contract between the host (the qemu provider) and the
// tether, PID 1 of every container VM. Both sides import it; nothing else
// should.
//
// What the host gives the guest:
//
//   - Disks (virtio-blk, told apart by their serial, see /sys/block/vdX/serial):
//     DiskImage: the image's root filesystem, ext4, read-only, shared by every
//     VM of that image; DiskRW: the container's own writable layer, ext4,
//     holding upper/ and work/ for overlayfs; DiskConfig: the Config below,
//     written with WriteConfig.
//   - Two virtio-serial ports (find them by /sys/class/virtio-ports/*/name):
//     PortControl carries the control channel, PortLog carries output
//     records into a file on the host that QEMU itself writes, so output and
//     the exit status are kept even when vchd is down.
//
// Control channel handshake (the guest must open the port once and keep it
// open): the guest writes HelloLine every 100 ms until it reads GoLine, then
// writes AckLine and runs an SSH server (golang.org/x/crypto/ssh) on the rest
// of the stream, with host key Config.HostKey and no client authentication.
// The host dials QEMU's unix socket, reads lines until HelloLine, writes
// GoLine, discards lines up to and including AckLine, then runs an SSH client
// that pins Config.HostKey's public key. When the host goes away the guest
// reads EOF, and starts over with HelloLine.
//
// A host that leaves and comes back quickly may find the guest still in
// the earlier host's SSH session: the port's disconnect was over before
// the guest's read noticed it, so it never read EOF and sends no hello,
// and the new host waits for one. So, while it waits for HelloLine, the
// host writes NudgeLine every NudgeInterval (see Nudge): a stale SSH
// session fails on it (it is no SSH packet and too long for a version
// line) and the guest starts over; a guest in the handshake ignores it.
//
// On the SSH connection (see the Req*/Chan* names): global requests signal
// the main process, resize its TTY, set the guest clock and ask its state;
// a ChanStdin channel feeds the main process's stdin (EOF closes it).
//
// Log records (PortLog): RecordHeaderSize bytes of header, then Length bytes
// of payload. Header: kind (1 byte), 3 zero bytes, Length (uint32 big
// endian), guest time (int64 unix nanoseconds, big endian). Kinds: stdout,
// stderr, and event, whose payload is one JSON Event.
package proto

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Disk serials and port names.
const (
	DiskImage  = "vch-image"
	DiskRW     = "vch-rw"
	DiskConfig = "vch-config"

	PortControl = "tether"
	PortLog     = "log"
)

// Handshake lines.
const (
	HelloLine = "VCH-TETHER-HELLO\n"
	GoLine    = "VCH-HOST-GO\n"
	AckLine   = "VCH-TETHER-ACK\n"
)

// NudgeLine breaks a stale SSH session on the guest side (see the package
// doc): more than the 255 bytes an SSH version line may have, no valid
// packet length in its first bytes, one line for the handshake to ignore.
var NudgeLine = "VCH-HOST-NUDGE-" + strings.Repeat("~", 300) + "\n"

// NudgeInterval is how long a host waits for HelloLine before each nudge.
const NudgeInterval = time.Second

// Nudge writes NudgeLine to w every NudgeInterval until stop is closed.
// The returned channel is closed once Nudge writes no more: wait for it
// before writing GoLine, so that no nudge follows the go line.
func Nudge(w io.Writer, stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(NudgeInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := io.WriteString(w, NudgeLine); err != nil {
					return
				}
			}
		}
	}()
	return done
}

// SSH global requests and channel types.
const (
	// ReqSignal: payload SignalRequest; signals the main process (only it, as docker does).
	ReqSignal = "vch-signal"
	// ReqResize: payload ResizeRequest; sets the main process's TTY size.
	ReqResize = "vch-resize"
	// ReqTime: payload TimeRequest; sets the guest's wall clock.
	ReqTime = "vch-time"
	// ReqState: no payload; the reply payload is a StateReply.
	ReqState = "vch-state"
	// ReqFreeze: no payload; stops (SIGSTOP) every process of the
	// container, the tether excepted, before the host pauses the VM, so
	// the host can run the VM for an archive call while the container
	// stays paused. ReqThaw continues them (SIGCONT).
	ReqFreeze = "vch-freeze"
	ReqThaw   = "vch-thaw"
	// ChanStdin: data written to it goes to the main process's stdin. The
	// host closes that stdin with the channel request ReqStdinEOF (wait
	// for its reply) and then CloseWrite; an EOF without it is a lost
	// connection (vchd died) and leaves the process's stdin open.
	ChanStdin = "vch-stdin"
	// ReqStdinEOF: a request on a ChanStdin channel: the EOF that follows
	// closes the main process's stdin.
	ReqStdinEOF = "vch-stdin-eof"
)

// SignalRequest is the payload of ReqSignal.
type SignalRequest struct {
	Signal int `json:"signal"`
}

// ResizeRequest is the payload of ReqResize.
type ResizeRequest struct {
	Rows uint16 `json:"rows"`
	Cols uint16 `json:"cols"`
}

// TimeRequest is the payload of ReqTime.
type TimeRequest struct {
	UnixNano int64 `json:"unixNano"`
}

// StateReply answers ReqState.
type StateReply struct {
	Running  bool `json:"running"`
	Pid      int  `json:"pid"`
	Exited   bool `json:"exited"`
	ExitCode int  `json:"exitCode"`
}

// Config is what the guest needs to run a container; it reaches the tether
// on DiskConfig.
type Config struct {
	ID         string      `json:"id"`
	Hostname   string      `json:"hostname"`
	Domainname string      `json:"domainname,omitempty"`
	Hosts      []HostEntry `json:"hosts,omitempty"`
	DNS        []string    `json:"dns,omitempty"`
	DNSSearch  []string    `json:"dnsSearch,omitempty"`
	DNSOptions []string    `json:"dnsOptions,omitempty"`
	Process    Process     `json:"process"`
	// Volumes are disks (serial VolumeSerial(i)) mounted into the
	// container, in the order to mount them.
	Volumes []VolumeMount `json:"volumes,omitempty"`
	Tmpfs   []TmpfsMount  `json:"tmpfs,omitempty"`
	// HostKey is the SSH host key the tether serves with (PEM, private).
	HostKey []byte `json:"hostKey"`
	// LaunchTime is the host's clock just before QEMU started (unix ns); the
	// tether sets its clock to LaunchTime + its monotonic clock at boot.
	LaunchTime int64 `json:"launchTime"`
	// Modules lists kernel modules (file names under /lib/modules in the
	// initramfs) in load order. Empty means the tether's built-in order.
	Modules []string `json:"modules,omitempty"`
	// Debug makes the tether log to the console (ttyS0).
	Debug bool `json:"debug,omitempty"`
	// Maintenance boots the VM without the container's process: the
	// tether mounts the container's file systems, emits EventMounted,
	// serves archive sessions (docker cp, diff on a stopped container)
	// and powers off on ReqPowerOff.
	Maintenance bool `json:"maintenance,omitempty"`
	// Interfaces are the VM's NICs (virtio-net), found by MAC. The tether
	// brings lo up whether or not there are any.
	Interfaces []Interface `json:"interfaces,omitempty"`
	// Entropy is fresh host randomness (EntropySize bytes, new for every
	// start) that the tether mixes into the guest kernel's RNG and credits
	// before anything else reads from it, so no two VMs (and no two clones
	// of one saved template) share a random stream or a boot_id.
	Entropy []byte `json:"entropy,omitempty"`
}

// EntropySize is how many bytes of host randomness a start sends.
const EntropySize = 64

// Template boots (kernel command line flag TemplateFlag): the tether
// writes TemplateReady on the serial console before it loads any module
// and waits for a line "TemplateGo <host unix ns>" there.
const (
	TemplateFlag  = "vch.template"
	TemplateReady = "vch-template-ready"
	TemplateGo    = "go"
)

// Interface configures one NIC of the guest.
type Interface struct {
	MAC     string `json:"mac"`               // e.g. 02:42:ac:10:00:02
	Address string `json:"address,omitempty"` // CIDR, e.g. 172.16.0.2/16; empty: link up only
	Gateway string `json:"gateway,omitempty"` // default route via this address
	MTU     int    `json:"mtu,omitempty"`     // 0: the driver's default
	// Address6 (CIDR) and Gateway6: IPv6 on an IPv6-enabled network.
	Address6 string `json:"address6,omitempty"`
	Gateway6 string `json:"gateway6,omitempty"`
	// Firewall, if set, is enforced by the guest on this NIC (a vSphere
	// container network).
	Firewall *GuestFirewall `json:"firewall,omitempty"`
	// DNS are the name servers the NIC's network offers (on vSphere the
	// tether's resolv.conf; a QEMU VM's comes with Config.DNS).
	DNS []string `json:"dns,omitempty"`
}

// VolumeSerialPrefix starts the serial of every volume disk.
const VolumeSerialPrefix = "vch-vol-"

// VirtioFSModules are the modules (file names under /lib/modules, in load
// order) a VM with a virtiofs mount needs; the initramfs packs them
// without loading them at boot.
var VirtioFSModules = []string{"fuse.ko", "virtiofs.ko"}

// FSTag is the virtiofs tag of the i-th shared file system of a VM.
func FSTag(i int) string { return fmt.Sprintf("vch-fs-%d", i) }

// VolumeSerial is the virtio serial of the i-th volume disk of a VM.
func VolumeSerial(i int) string { return fmt.Sprintf("%s%d", VolumeSerialPrefix, i) }

// VolumeMount mounts the ext4 volume disk with serial Serial, or the
// virtiofs file system tagged Tag (a shared volume or a host directory),
// at Path in the container. A volume mounted at several paths appears
// once per path.
type VolumeMount struct {
	Serial   string `json:"serial,omitempty"`
	Tag      string `json:"tag,omitempty"`
	Path     string `json:"path"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// CopyImage: if the volume holds nothing yet, copy the image's
	// content at Path into it before mounting it there.
	CopyImage bool `json:"copyImage,omitempty"`
	// HostDir: Tag is a host directory (a bind mount), mounted as it is
	// (no lost+found clean-up, no copy-up).
	HostDir bool `json:"hostDir,omitempty"`
}

// TmpfsMount mounts a tmpfs at Path with mount(8) Options.
type TmpfsMount struct {
	Path    string `json:"path"`
	Options string `json:"options,omitempty"`
}

// HostEntry is one /etc/hosts line.
type HostEntry struct {
	IP    string   `json:"ip"`
	Names []string `json:"names"`
}

// Process is the main process.
type Process struct {
	Args       []string `json:"args"`
	Env        []string `json:"env,omitempty"`
	User       string   `json:"user,omitempty"`
	GroupAdd   []string `json:"groupAdd,omitempty"` // supplementary groups for it and every exec
	WorkingDir string   `json:"workingDir,omitempty"`
	Tty        bool     `json:"tty,omitempty"`
	OpenStdin  bool     `json:"openStdin,omitempty"`
	StdinOnce  bool     `json:"stdinOnce,omitempty"`
	// ConsoleSize is the TTY's initial [rows, cols]; zeros: the default.
	ConsoleSize [2]uint16 `json:"consoleSize,omitempty"`
}

// Config disk layout: ConfigMagic, uint64 big-endian length, JSON, zero
// padding to a multiple of 4096 bytes.
const ConfigMagic = "VCHCFG01"

// WriteConfig writes c in the config disk layout.
func WriteConfig(w io.Writer, c *Config) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode tether config: %w", err)
	}
	n := 16 + len(b)
	pad := (4096 - n%4096) % 4096
	buf := make([]byte, 16, n+pad)
	copy(buf, ConfigMagic)
	binary.BigEndian.PutUint64(buf[8:], uint64(len(b)))
	buf = append(buf, b...)
	buf = append(buf, make([]byte, pad)...)
	_, err = w.Write(buf)
	return err
}

// ReadConfig reads a Config in the config disk layout.
func ReadConfig(r io.Reader) (*Config, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read config header: %w", err)
	}
	if string(hdr[:8]) != ConfigMagic {
		return nil, errors.New("config disk: bad magic")
	}
	n := binary.BigEndian.Uint64(hdr[8:])
	if n > 64<<20 {
		return nil, fmt.Errorf("config disk: length %d too large", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c := new(Config)
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	return c, nil
}

// Record kinds on PortLog.
const (
	KindStdout byte = 1
	KindStderr byte = 2
	KindEvent  byte = 3
)

// RecordHeaderSize is the size of a log record header.
const RecordHeaderSize = 16

// MaxRecordPayload bounds one record; writers split larger chunks.
const MaxRecordPayload = 1 << 20

// Record is one log record.
type Record struct {
	Kind byte
	Time time.Time
	Data []byte
}

// Event names carried in KindEvent records. The tether emits, in order:
// EventTether (tether started as init), EventMounted (root filesystem
// ready), EventStarted (main process running, Pid set), EventExited
// (ExitCode set) and EventPowerOff just before it powers the VM off.
// EventError carries a failure before the process could start (Error set;
// the VM powers off after it).
const (
	EventTether   = "tether"
	EventMounted  = "mounted"
	EventStarted  = "process-started"
	EventExited   = "process-exited"
	EventPowerOff = "poweroff"
	EventError    = "error"
	// EventSize (Size set) is the writable layer's size, measured just
	// before power off (ps -s of a stopped container).
	EventSize = "size"
)

// Event is the payload of a KindEvent record.
type Event struct {
	Name     string `json:"name"`
	Pid      int    `json:"pid,omitempty"`
	ExitCode int    `json:"exitCode,omitempty"`
	Error    string `json:"error,omitempty"`
	Size     int64  `json:"size,omitempty"`
}

// EncodeRecord returns the wire form of one record.
func EncodeRecord(kind byte, t time.Time, data []byte) []byte {
	buf := make([]byte, RecordHeaderSize+len(data))
	buf[0] = kind
	binary.BigEndian.PutUint32(buf[4:], uint32(len(data)))
	binary.BigEndian.PutUint64(buf[8:], uint64(t.UnixNano()))
	copy(buf[RecordHeaderSize:], data)
	return buf
}

// ErrShortRecord means the stream ended inside a record; a reader that
// follows a growing file retries from the record's start later.
var ErrShortRecord = errors.New("short log record")

// DecodeRecord decodes the record at the start of b and returns it with the
// number of bytes it used. It returns ErrShortRecord if b holds only part of
// a record.
func DecodeRecord(b []byte) (Record, int, error) {
	if len(b) < RecordHeaderSize {
		return Record{}, 0, ErrShortRecord
	}
	kind := b[0]
	if kind < KindStdout || kind > KindEvent {
		return Record{}, 0, fmt.Errorf("log record: bad kind %d", kind)
	}
	n := int(binary.BigEndian.Uint32(b[4:]))
	if n > MaxRecordPayload {
		return Record{}, 0, fmt.Errorf("log record: length %d too large", n)
	}
	if len(b) < RecordHeaderSize+n {
		return Record{}, 0, ErrShortRecord
	}
	ts := int64(binary.BigEndian.Uint64(b[8:]))
	data := make([]byte, n)
	copy(data, b[RecordHeaderSize:RecordHeaderSize+n])
	return Record{Kind: kind, Time: time.Unix(0, ts), Data: data}, RecordHeaderSize + n, nil
}
