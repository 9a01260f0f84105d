package vscompute

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"path"
	"syscall"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/portlayer/vsphere/vsession"
	"github.com/vchproject/vch/tether/proto"
)

// Keys of the tether's vSphere transport (see tether/proto/serial.go).
const (
	KeyConfig = proto.GuestinfoConfig
	KeySerial = proto.GuestinfoSerial
	KeyToken  = proto.GuestinfoToken
)

// startTimeout bounds the wait for the tether's first word after power
// on (a docker-backed VM takes 3-6 s; a loaded host more).
const startTimeout = 3 * time.Minute

// tetherKeys makes the guestinfo of a new VM's tether: its config (with
// a fresh SSH host key), the concentrator's address and the VM's token.
// They are fixed for the VM's life: the simulator hands guestinfo to the
// backing container once, when it first powers on.
func (p *Provider) tetherKeys(spec compute.Spec) ([]types.BaseOptionValue, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	s := spec
	cfg := proto.Config{
		ID: s.ID, Hostname: s.Hostname, Domainname: s.Domainname,
		DNS: s.DNS, DNSSearch: s.DNSSearch, DNSOptions: s.DNSOptions,
		Process: proto.Process{
			Args: s.Process.Args, Env: s.Process.Env, User: s.Process.User, GroupAdd: s.Process.GroupAdd,
			WorkingDir: s.Process.WorkingDir, Tty: s.Process.Tty,
			OpenStdin: s.Process.OpenStdin, StdinOnce: s.Process.StdinOnce,
			ConsoleSize: s.Process.ConsoleSize,
		},
		HostKey: pem.EncodeToMemory(block),
		Debug:   p.cfg.Debug,
	}
	if cfg.Hostname == "" {
		cfg.Hostname = s.ID[:12]
	}
	// A VM that boots the bootstrap ISO mounts each volume's disk, which
	// guestinfo.vch.disks names by the volume (the Serial here).
	for _, m := range s.Mounts {
		if m.Volume == "" {
			continue // bind mounts: refused by Create's devices
		}
		cfg.Volumes = append(cfg.Volumes, proto.VolumeMount{
			Serial: m.Volume, Path: path.Clean(m.Path), ReadOnly: m.ReadOnly, CopyImage: m.CopyImage,
		})
	}
	for _, t := range s.Tmpfs {
		cfg.Tmpfs = append(cfg.Tmpfs, proto.TmpfsMount{Path: path.Clean(t.Path), Options: t.Options})
	}
	for _, h := range s.Hosts {
		cfg.Hosts = append(cfg.Hosts, proto.HostEntry{IP: h.IP, Names: h.Names})
	}
	val, err := encode(cfg)
	if err != nil {
		return nil, err
	}
	return []types.BaseOptionValue{
		&types.OptionValue{Key: KeyConfig, Value: val},
		&types.OptionValue{Key: KeySerial, Value: p.serialAddr()},
		&types.OptionValue{Key: KeyToken, Value: hex.EncodeToString(tok)},
	}, nil
}

func (p *Provider) serialAddr() string {
	if p.cfg.SerialAddr != "" {
		return p.cfg.SerialAddr
	}
	return p.hub.ln.Addr().String()
}

// noTether answers what needs the tether on a provider without the
// serial concentrator.
func (p *Provider) noTether(ctx context.Context, id, what string) error {
	if _, err := p.find(ctx, id); err != nil {
		return err
	}
	return errdefs.NotImplemented(fmt.Sprintf("%s on vSphere needs the tether's serial control channel: this VCH has no serial concentrator configured", what))
}

// control returns the SSH client to a running container's tether.
func (p *Provider) control(ctx context.Context, id, what string) (*ssh.Client, error) {
	if p.hub == nil {
		return nil, p.noTether(ctx, id, what)
	}
	c, err := p.find(ctx, id)
	if err != nil {
		return nil, err
	}
	st := c.status()
	if st.State != compute.StateRunning {
		p.log.Debug("control: container not running", zap.String("id", id), zap.String("for", what), zap.String("power", string(c.power)), zap.Any("record", c.rec))
		return nil, tetherlink.NotRunning(id)
	}
	if st.Paused {
		return nil, errdefs.Conflict(fmt.Sprintf("Container %s is paused, unpause the container before exec", id))
	}
	return p.dialTether(ctx, c)
}

// dialTether returns the SSH client to c's tether, waiting up to
// startTimeout for its control connection.
func (p *Provider) dialTether(ctx context.Context, c *vm) (*ssh.Client, error) {
	var cfg proto.Config
	if err := decode(c.config, &cfg); err != nil {
		return nil, fmt.Errorf("container %s: tether config: %w", c.spec.ID, err)
	}
	key, err := ssh.ParsePrivateKey(cfg.HostKey)
	if err != nil {
		return nil, fmt.Errorf("container %s: tether host key: %w", c.spec.ID, err)
	}
	cctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return p.hub.client(cctx, c.spec.ID, key.PublicKey())
}

// Signal sends sig to the main process through the tether; SIGKILL is a
// power off.
func (p *Provider) Signal(ctx context.Context, id string, sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		return p.Kill(ctx, id)
	}
	// A suspended VM cannot handle it: resume it first, as docker thaws.
	if c, err := p.find(ctx, id); err == nil && c.power == types.VirtualMachinePowerStateSuspended {
		if err := p.Unpause(ctx, id); err != nil {
			return err
		}
	}
	cl, err := p.control(ctx, id, "signal")
	if err != nil {
		return err
	}
	_, err = tetherlink.Request(cl, id, proto.ReqSignal, proto.SignalRequest{Signal: int(sig)})
	return err
}

// Resize sets the main process's TTY size.
func (p *Provider) Resize(ctx context.Context, id string, height, width uint) error {
	if height > 0xffff || width > 0xffff {
		return fmt.Errorf("tty size %dx%d: %w", height, width, errdefs.ErrInvalidParameter)
	}
	cl, err := p.control(ctx, id, "resize")
	if err != nil {
		return err
	}
	_, err = tetherlink.Request(cl, id, proto.ReqResize, proto.ResizeRequest{Rows: uint16(height), Cols: uint16(width)})
	return err
}

// Exec starts a process in the container through the tether.
func (p *Provider) Exec(ctx context.Context, id string, cfg compute.ExecConfig) (compute.ExecProcess, error) {
	if cfg.Height > 0xffff || cfg.Width > 0xffff {
		return nil, fmt.Errorf("tty size %dx%d: %w", cfg.Height, cfg.Width, errdefs.ErrInvalidParameter)
	}
	cl, err := p.control(ctx, id, "exec")
	if err != nil {
		return nil, err
	}
	x, err := tetherlink.Exec(ctx, cl, id, cfg)
	if tetherlink.ClosedBeforeStart(err) {
		// The session closed before the tether reported a start: the
		// container's end (docker's "not running") or, if the control
		// connection is dead while the container still runs, a broken
		// connection: say so rather than "not running".
		if c, ferr := p.find(ctx, id); ferr == nil && c.status().State == compute.StateRunning && !alive(cl) {
			p.log.Warn("exec session closed before it started while the container runs", zap.String("id", id), zap.Strings("args", cfg.Args), zap.Error(err))
			return nil, fmt.Errorf("container %s: exec: the control connection to the tether closed before the process started: %w", id, errdefs.ErrUnavailable)
		}
	}
	return x, err
}

// alive reports whether cl's connection still answers a request (the
// tether replies to any, known or not), waiting at most 2 s.
func alive(cl *ssh.Client) bool {
	done := make(chan error, 1)
	go func() {
		_, _, err := cl.SendRequest("keepalive@vch", true, nil)
		done <- err
	}()
	select {
	case err := <-done:
		return err == nil
	case <-time.After(2 * time.Second):
		return false
	}
}

// Top asks the tether for the container's processes.
func (p *Provider) Top(ctx context.Context, id string, psArgs []string) (compute.TopResult, error) {
	cl, err := p.control(ctx, id, "top")
	if err != nil {
		return compute.TopResult{}, err
	}
	return tetherlink.Top(cl, id, psArgs)
}

// Stats asks the tether for the container's counters.
func (p *Provider) Stats(ctx context.Context, id string) (compute.Stats, error) {
	cl, err := p.control(ctx, id, "stats")
	if err != nil {
		return compute.Stats{}, err
	}
	return tetherlink.Stats(cl, id)
}

// awaitTether waits for the tether's first verdict after power on: the
// process started (its guest pid) or could not (its exit code and
// error).
func (p *Provider) awaitTether(ctx context.Context, id string, events <-chan tevent) (int, error) {
	t := time.NewTimer(startTimeout)
	defer t.Stop()
	for {
		select {
		case ev := <-events:
			switch ev.Name {
			case proto.EventStarted:
				return ev.Pid, nil
			case proto.EventError:
				return ev.ExitCode, errdefs.New(errdefs.ErrInvalidParameter, ev.Error)
			case proto.EventExited:
				// Cannot come first; ignore a stale one.
			}
		case <-t.C:
			return 0, fmt.Errorf("container %s: the tether did not report within %s: %w", id, startTimeout, errdefs.ErrUnavailable)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// recordExit records the exit the tether reported, if the run is still
// recorded as running, after telling networking that the run ended (so
// Detach comes before Wait sees the exit, as on a kill).
func (p *Provider) recordExit(id string, ev tevent) {
	unlock := p.lockRec(id)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := p.find(ctx, id)
	if err != nil || !c.rec.Running || ev.At.Before(c.rec.StartedAt) {
		return
	}
	p.detach(ctx, id)
	c.rec.Running, c.rec.Exited, c.rec.ExitCode = false, true, ev.ExitCode
	c.rec.FinishedAt = ev.At.UTC()
	c.rec.Boot = append(c.rec.Boot, compute.Step{Name: "process-exited", At: c.rec.FinishedAt})
	if err := p.writeRecord(ctx, c); err != nil {
		p.log.Warn("exit not recorded: " + err.Error())
	}
}

// powerOffIfOn powers a VM off; one that is off already (its guest
// stopped meanwhile: the simulator follows the backing container
// asynchronously) is no error.
func (p *Provider) powerOffIfOn(ctx context.Context, c *vm) error {
	task, err := object.NewVirtualMachine(p.s.Client, c.ref).PowerOff(ctx)
	if err == nil {
		err = p.s.Wait(ctx, "container "+c.spec.ID+": power off", task)
	} else {
		err = vsession.Classify(err)
	}
	if err != nil {
		if now, gerr := p.get(ctx, c.ref); gerr == nil && now.power == types.VirtualMachinePowerStatePoweredOff {
			return nil
		}
		return err
	}
	return nil
}

var _ compute.Provider = (*Provider)(nil)
