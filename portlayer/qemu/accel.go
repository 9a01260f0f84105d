package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

const (
	fileAccel    = "accel.json"
	probeTimeout = 30 * time.Second
)

// accelVerdict is Root/accel.json: the cached outcome of the KVM probe for
// one kernel and QEMU.
type accelVerdict struct {
	Accel  string    `json:"accel"`
	Kernel string    `json:"kernel"`
	QEMU   string    `json:"qemu"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// accelerator resolves Config.Accel. "auto" means KVM only if the KVM
// device exists and a time-limited probe boot under KVM succeeds; the
// verdict is cached in Root so only the first start pays for the probe.
func (p *Provider) accelerator(ctx context.Context) string {
	if p.cfg.Accel != AccelAuto {
		return p.cfg.Accel
	}
	p.accelMu.Lock()
	defer p.accelMu.Unlock()
	if p.accel != "" {
		return p.accel
	}
	cache := filepath.Join(p.cfg.Root, fileAccel)
	var v accelVerdict
	if err := readJSON(cache, &v); err == nil && v.Kernel == p.cfg.Kernel && v.QEMU == p.cfg.QEMU &&
		(v.Accel == AccelKVM || v.Accel == AccelTCG) {
		p.accel = v.Accel
		return p.accel
	}
	v = accelVerdict{Accel: AccelTCG, Kernel: p.cfg.Kernel, QEMU: p.cfg.QEMU, At: p.clock.Now()}
	if _, err := os.Stat(p.kvmDevice); err != nil {
		v.Reason = "no " + p.kvmDevice
	} else if err := p.probeKVM(ctx); err != nil {
		v.Reason = "KVM probe boot failed: " + err.Error()
	} else {
		v.Accel = AccelKVM
	}
	p.log.Info("accelerator chosen", zap.String("accel", v.Accel), zap.String("reason", v.Reason))
	if err := writeJSON(cache, &v); err != nil {
		p.log.Warn("cache accelerator verdict", zap.Error(err))
	}
	p.accel = v.Accel
	return p.accel
}

// probeBoot boots the kernel under KVM without a root file system: a
// working KVM reaches the "unable to mount root" panic and QEMU exits
// (panic=-1 with -no-reboot) within the time limit.
func (p *Provider) probeBoot(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	args := []string{
		"-accel", "kvm", "-cpu", "host", "-M", "microvm", "-m", "128", "-smp", "1",
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-kernel", p.cfg.Kernel,
		"-append", "console=ttyS0 panic=-1 root=/dev/vch-kvm-probe",
		"-serial", "stdio",
	}
	out, err := exec.CommandContext(ctx, p.cfg.QEMU, args...).CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("no panic within %s", probeTimeout)
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, lastLine(out))
	}
	if !strings.Contains(string(out), "Kernel panic") {
		return errors.New("kernel did not reach its root mount")
	}
	return nil
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
