// Package compute is the port layer's VM-centric view of containers.
//
// A container is a VM. The lifecycle of one container VM, in the words this
// package uses:
//
//  1. Create(spec) records the VM definition (Spec) beside a new writable
//     layer disk. Nothing runs yet; the container is StateCreated.
//  2. Start(id) boots the VM. The tether (PID 1 in the guest) reads its
//     configuration, mounts the image's read-only root filesystem under the
//     container's writable layer and starts the main process. Start returns
//     once the process runs (StateRunning) or the boot failed.
//  3. While it runs: Signal delivers a signal to the main process, Attach
//     and Logs stream its output, Resize changes its TTY, Kill powers the
//     VM off at once, Exec runs more processes beside it (see Execer).
//  4. When the main process ends the tether reports its exit code and powers
//     the VM off: StateExited, with ExitCode and FinishedAt. Start may boot
//     it again; the writable layer and the logs are kept.
//  5. Remove(id) deletes the definition, the writable layer and the logs. It
//     refuses (ErrConflict) while the VM runs.
//
// Every method returns errdefs classes: ErrNotFound for an unknown id,
// ErrAlreadyExists from Create for a taken id, ErrConflict for an operation
// the current state forbids. Callers that only read ask for Inspector;
// nothing above the port layer needs the whole Provider.
package compute

import (
	"context"
	"io"
	"syscall"
	"time"

	"github.com/vchproject/vch/errdefs"
)

// Spec defines one container VM. The port layer stores it atomically beside
// the VM's disks; it is the only copy of the container's definition.
type Spec struct {
	ID string `json:"id"` // 64 lowercase hex digits, chosen by the caller
	// Name is the VM's display name (the VCH's container name convention
	// applied: VM and process names); empty: the provider's default.
	Name       string      `json:"name,omitempty"`
	Image      string      `json:"image"` // image ID (sha256:...) whose root filesystem the VM boots
	Process    Process     `json:"process"`
	Hostname   string      `json:"hostname"`
	Domainname string      `json:"domainname,omitempty"`
	Hosts      []HostEntry `json:"hosts,omitempty"` // extra /etc/hosts entries
	DNS        []string    `json:"dns,omitempty"`
	DNSSearch  []string    `json:"dnsSearch,omitempty"`
	DNSOptions []string    `json:"dnsOptions,omitempty"`
	CPUs       int         `json:"cpus,omitempty"`     // 0: provider default
	MemoryMB   int64       `json:"memoryMB,omitempty"` // 0: provider default
	DiskSize   int64       `json:"diskSize,omitempty"` // writable layer cap in bytes; 0: provider default
	Mounts     []Mount     `json:"mounts,omitempty"`   // volumes (see portlayer/volume)
	Tmpfs      []Tmpfs     `json:"tmpfs,omitempty"`
	// Meta is opaque to the port layer and stored with the definition; the
	// docker personality keeps its own view of the container here.
	Meta []byte `json:"meta,omitempty"`
}

// Process is what the tether runs as the container's main process.
type Process struct {
	Args []string `json:"args"` // Args[0] is looked up in PATH of Env inside the container
	Env  []string `json:"env,omitempty"`
	User string   `json:"user,omitempty"` // user[:group], names or numbers, resolved in the guest
	// GroupAdd are supplementary groups (names or numbers, resolved in
	// the guest) for the main process and every exec (docker's --group-add).
	GroupAdd   []string `json:"groupAdd,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	Tty        bool     `json:"tty,omitempty"`
	OpenStdin  bool     `json:"openStdin,omitempty"`
	StdinOnce  bool     `json:"stdinOnce,omitempty"`
	// ConsoleSize is the TTY's initial [rows, cols] (docker's
	// HostConfig.ConsoleSize); zeros: the guest's default.
	ConsoleSize [2]uint16 `json:"consoleSize,omitempty"`
}

// Mount puts a volume, or a host directory (Source, a bind mount), at Path
// in the container. A provider attaches each volume once per VM, however
// many paths it is mounted at. Shared volumes (portlayer/volume) can be
// mounted by any number of running VMs; a provider refuses to start a VM
// on an unshared volume that another running VM of it holds
// (ErrVolumeInUse).
type Mount struct {
	Volume string `json:"volume,omitempty"` // volume name
	// Source is an absolute host directory for a bind mount (Volume
	// empty); the caller has checked that the VCH allows it.
	Source   string `json:"source,omitempty"`
	Path     string `json:"path"` // absolute path in the container
	ReadOnly bool   `json:"readOnly,omitempty"`
	// CopyImage fills an empty volume with the image's content at Path
	// when it is first mounted (docker's copy-up of VOLUME content).
	CopyImage bool `json:"copyImage,omitempty"`
}

// Tmpfs is a memory file system at Path; Options are mount(8) options
// (ro, noexec, size=64m, mode=1777, ...).
type Tmpfs struct {
	Path    string `json:"path"`
	Options string `json:"options,omitempty"`
}

// ErrVolumeInUse is why Start refuses a container one of whose volumes a
// running VM holds (class errdefs.ErrConflict). It is a failed start, not a
// start racing another one.
var ErrVolumeInUse = errdefs.Conflict("a volume made before this VCH shared volumes is mounted by one running container at a time")

// HostEntry is one /etc/hosts line.
type HostEntry struct {
	IP    string   `json:"ip"`
	Names []string `json:"names"`
}

// State of a container VM.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
)

// Status is the last known runtime state of a container VM.
type Status struct {
	State State `json:"state"`
	// Pid identifies the running main process as the provider knows it,
	// for display only (docker inspect's State.Pid): qemu gives the host
	// pid of the VM's QEMU, vsphere the guest pid the tether reports (0
	// until it does). Nothing may signal or wait on it as a host pid.
	Pid        int       `json:"pid,omitempty"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	ExitCode   int       `json:"exitCode"`
	Error      string    `json:"error,omitempty"`
	// Paused: the VM's vCPUs are stopped (State stays StateRunning).
	Paused bool `json:"paused,omitempty"`
	// Boot holds the timestamped steps of the last start ("launch",
	// "kernel", "tether", "process-started", "process-exited", ...).
	Boot []Step `json:"boot,omitempty"`
}

// Step is one timestamped step of a VM start.
type Step struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// Container is a definition with its status.
type Container struct {
	Spec   Spec   `json:"spec"`
	Status Status `json:"status"`
}

// WaitCondition says what Wait waits for, as in docker's wait conditions.
type WaitCondition int

const (
	WaitNotRunning WaitCondition = iota // returns at once if the VM is not running
	WaitNextExit                        // waits for the end of the next (or current) run
	WaitRemoved                         // waits until the container is removed
)

// AttachOptions connect a caller's streams to the main process.
type AttachOptions struct {
	Stdin  io.Reader // nil: no stdin. EOF on it closes the process's stdin.
	Stdout io.Writer // with a TTY all output goes here
	Stderr io.Writer
	Logs   bool // replay the output kept so far before streaming
	Stream bool // stream output until the process ends
}

// LogOptions select kept output.
type LogOptions struct {
	Follow bool
	Since  time.Time // zero: from the start
	Until  time.Time // zero: no limit
	Tail   int       // < 0: all entries; else the last Tail lines
}

// LogEntry is one chunk of output of the main process.
type LogEntry struct {
	Stream string // "stdout" or "stderr"
	Time   time.Time
	Data   []byte
}

// Creator makes container VM definitions.
type Creator interface {
	Create(ctx context.Context, spec Spec) error
	// Update replaces the opaque Meta of a definition (rename, labels).
	Update(ctx context.Context, id string, meta []byte) error
}

// Inspector reads definitions and status.
type Inspector interface {
	Inspect(ctx context.Context, id string) (Container, error)
	List(ctx context.Context) ([]Container, error)
}

// Runner drives the VM's power state and main process.
type Runner interface {
	Start(ctx context.Context, id string) error
	Signal(ctx context.Context, id string, sig syscall.Signal) error
	// Kill powers the VM off now; the exit code becomes 137 unless the
	// process already reported one.
	Kill(ctx context.Context, id string) error
	Wait(ctx context.Context, id string, cond WaitCondition) (Status, error)
}

// Streamer gives access to the main process's streams.
type Streamer interface {
	// Attach blocks until the stream ends: the process exited and its output
	// was drained, or ctx was canceled.
	Attach(ctx context.Context, id string, opts AttachOptions) error
	// Logs returns kept output; with Follow the channel closes when the
	// process exits, else after the last kept entry.
	Logs(ctx context.Context, id string, opts LogOptions) (<-chan LogEntry, error)
	Resize(ctx context.Context, id string, height, width uint) error
}

// Remover deletes container VMs.
type Remover interface {
	Remove(ctx context.Context, id string) error
}

// Provider is a complete compute implementation (qemu, vsphere, fake).
type Provider interface {
	Creator
	Inspector
	Runner
	Streamer
	Remover
	Execer
	Pauser
	Topper
	Statser
	Resizer
	Archiver
}
