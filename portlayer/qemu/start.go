package qemu

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/internal/atomicfile"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

// DefaultHandlers is the start step list: resolve the image disk and the
// volume disks, write
// the config disk, launch QEMU, await the tether's report.
func (p *Provider) DefaultHandlers() HandlerList {
	return NewHandlerList(
		Handler{Name: StepImage, Fn: stepImage},
		Handler{Name: StepVolumes, Fn: stepVolumes},
		Handler{Name: StepNetwork, Fn: stepNetwork},
		Handler{Name: StepConfigDisk, Fn: stepConfigDisk},
		Handler{Name: StepLaunch, Fn: stepLaunch},
		Handler{Name: StepAwaitTether, Fn: stepAwaitTether},
	)
}

// Start boots the VM and returns once its main process runs, or with the
// reason it could not start (the tether's message for a process that could
// not be executed, with docker's texts). Starting a running container is
// errdefs.ErrNotModified.
func (p *Provider) Start(ctx context.Context, id string) error {
	p.settleMaintOf(id)
	p.mu.Lock()
	v, err := p.lookup(id)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	switch {
	case v.run != nil && v.rec.State == compute.StateRunning:
		p.mu.Unlock()
		return fmt.Errorf("container %s is already running: %w", id, errdefs.ErrNotModified)
	case v.starting || v.run != nil:
		p.mu.Unlock()
		return errdefs.Conflict(fmt.Sprintf("container %s is starting or stopping", id))
	case v.maint != nil:
		p.mu.Unlock()
		return errdefs.Conflict(fmt.Sprintf("container %s is busy: files are being copied", id))
	case p.closed:
		p.mu.Unlock()
		return fmt.Errorf("qemu provider closed: %w", errdefs.ErrUnavailable)
	}
	v.starting = true
	p.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	b := &Boot{p: p, v: v, log: p.log.With(zap.String("id", id))}
	err = p.handlers.run(ctx, b)

	p.mu.Lock()
	v.starting = false
	if err != nil && v.rec.Error == "" {
		v.rec.Error = err.Error()
		p.persist(v)
	}
	v.changed()
	p.mu.Unlock()
	return err
}

func stepImage(ctx context.Context, b *Boot) error {
	if pinned, err := pinnedImage(b.v.dir); err != nil || pinned != "" {
		b.imagePath = pinned
		return err
	}
	path, err := b.p.cfg.Images.RootFS(ctx, b.v.spec.Image)
	if err != nil {
		return fmt.Errorf("container %s: image %s: %w", b.v.id, b.v.spec.Image, err)
	}
	b.imagePath = path
	return nil
}

// stepConfigDisk writes the tether's config with a fresh SSH host key.
func stepConfigDisk(ctx context.Context, b *Boot) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	entropy := make([]byte, proto.EntropySize)
	if _, err := rand.Read(entropy); err != nil {
		return fmt.Errorf("guest entropy: %w", err)
	}
	s := b.v.spec
	cfg := &proto.Config{
		ID:         s.ID,
		Hostname:   s.Hostname,
		Domainname: s.Domainname,
		DNS:        nameServers(s.DNS, b.nics),
		DNSSearch:  s.DNSSearch,
		DNSOptions: s.DNSOptions,
		Process: proto.Process{
			Args: s.Process.Args, Env: s.Process.Env, User: s.Process.User, GroupAdd: s.Process.GroupAdd,
			WorkingDir: s.Process.WorkingDir, Tty: s.Process.Tty,
			OpenStdin: s.Process.OpenStdin, StdinOnce: s.Process.StdinOnce,
			ConsoleSize: s.Process.ConsoleSize,
		},
		Volumes:     b.volumes,
		Tmpfs:       b.tmpfs,
		HostKey:     pem.EncodeToMemory(block),
		LaunchTime:  b.p.clock.Now().UnixNano(),
		Modules:     b.p.cfg.Modules,
		Debug:       b.p.cfg.Debug,
		Interfaces:  guestInterfaces(b.nics),
		Entropy:     entropy,
		Maintenance: b.maintenance,
	}
	if cfg.Hostname == "" && len(s.ID) >= 12 {
		cfg.Hostname = s.ID[:12]
	}
	for _, h := range s.Hosts {
		cfg.Hosts = append(cfg.Hosts, proto.HostEntry{IP: h.IP, Names: h.Names})
	}
	if e, ok := selfHostEntry(b.nics, cfg.Hostname, cfg.Domainname); ok {
		cfg.Hosts = append(cfg.Hosts, e)
	}
	var buf bytes.Buffer
	if err := proto.WriteConfig(&buf, cfg); err != nil {
		return err
	}
	name := fileConfig
	if b.maintenance {
		name = fileMaintConfig
	}
	path := filepath.Join(b.v.dir, name)
	if err := atomicfile.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return err
	}
	b.PushUndo(func() error { return removeIfExists(path) })
	b.hostKey = pub
	return nil
}

// stepLaunch starts QEMU detached from vchd and a monitor following it.
func stepLaunch(ctx context.Context, b *Boot) error {
	p, v := b.p, b.v
	if b.hostKey == nil || b.imagePath == "" {
		return errors.New("launch: image and config disk steps must run first")
	}
	sshPub, err := ssh.NewPublicKey(b.hostKey)
	if err != nil {
		return err
	}
	accel := p.accelerator(ctx)
	for _, f := range []string{fileCtl, fileQMP, filePid} {
		if err := removeIfExists(filepath.Join(v.dir, f)); err != nil {
			return err
		}
	}
	logStart, err := tetherlink.FileSize(filepath.Join(v.dir, fileLog))
	if err != nil {
		return err
	}
	cpus, mem := v.spec.CPUs, v.spec.MemoryMB
	if cpus == 0 {
		cpus = p.cfg.CPUs
	}
	if mem == 0 {
		mem = p.cfg.MemoryMB
	}
	ls := launchSpec{
		Name:  safeVMName(v.spec.Name),
		Accel: accel, TBSizeMB: p.cfg.TBSizeMB, CPUs: cpus, MemoryMB: mem,
		Kernel: p.cfg.Kernel, Initrd: p.cfg.Initrd, TSCkHz: p.tscKHz(ctx), Extra: p.cfg.KernelArgs,
		Image: b.imagePath, RW: fileRW, Config: fileConfig, Volumes: b.volumeDisks, Shares: b.shares,
		Ctl: fileCtl, QMP: fileQMP, PidFile: filePid, Console: fileConsole, Log: fileLog,
		NICs: append(slices.Clone(b.nics), b.spares...), GuestMemory: p.cfg.GuestMemory,
	}
	if b.clone != nil {
		b.clone.edit(&ls)
	}
	args := qemuArgs(ls)
	hostKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub)))

	p.mu.Lock()
	v.rec.Boot = []compute.Step{{Name: "launch", At: p.clock.Now()}}
	v.rec.LogStart = logStart
	v.rec.Launched = true
	v.rec.HostKey = hostKey
	v.rec.Error = ""
	p.persist(v)
	p.mu.Unlock()

	proc, err := p.runner.Start(ProcessSpec{Path: p.cfg.QEMU, Args: args, Dir: v.dir, Output: filepath.Join(v.dir, fileQEMUOut), Files: b.taps})
	// QEMU holds the taps now; they vanish with it.
	b.closeTaps()
	if err == nil && b.clone != nil {
		err = b.clone.resume(ctx, b, proc)
	}
	if err != nil {
		p.mu.Lock()
		v.rec.Launched = false
		v.rec.HostKey = ""
		p.persist(v)
		p.mu.Unlock()
		return err
	}
	b.reapShares(proc)
	b.log.Info("VM launched", zap.Int("pid", proc.Pid()), zap.String("accel", accel))
	r := newRunState(p, v, proc, logStart, hostKey)
	p.mu.Lock()
	v.run = r
	p.mu.Unlock()
	go r.monitor(false)
	b.run = r
	b.PushUndo(func() error {
		err := proc.Kill()
		<-r.done
		return err
	})
	return nil
}

// stepAwaitTether waits for the tether to report the process running.
func stepAwaitTether(ctx context.Context, b *Boot) error {
	r := b.run
	if r == nil {
		return errors.New("await-tether: nothing launched")
	}
	select {
	case <-r.started:
	case <-r.failed:
	case <-r.done:
	case <-ctx.Done():
	}
	p := b.p
	switch {
	case isClosed(r.started):
		return nil
	case isClosed(r.failed):
		p.mu.Lock()
		msg := r.errMsg
		p.mu.Unlock()
		return errdefs.New(errdefs.ErrInvalidParameter, msg)
	case isClosed(r.done):
		return fmt.Errorf("container %s: VM exited during boot: %s", b.v.id, bootDiagnostics(b.v.dir))
	default:
		msg := fmt.Sprintf("container %s: the tether did not start the process: %v", b.v.id, ctx.Err())
		p.mu.Lock()
		r.stopErr = msg
		p.mu.Unlock()
		return fmt.Errorf("%s: %w", msg, errdefs.ErrUnavailable)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// bootDiagnostics is the end of QEMU's output, else of the console.
func bootDiagnostics(dir string) string {
	for _, f := range []string{fileQEMUOut, fileConsole} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if s := strings.TrimSpace(string(b)); s != "" {
			if len(s) > 512 {
				s = "..." + s[len(s)-512:]
			}
			return s
		}
	}
	return "no output"
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
