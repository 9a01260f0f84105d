package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/measure"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/sysinfo"
)

// loadImages pulls the images every measurement needs (busybox, nginx) into
// each target from the one registry, and returns the targets that have
// them. The big image is left to the pull measurement.
func loadImages(ctx context.Context, log *zap.Logger, env *measure.Env, targets []*harness.Target) []*harness.Target {
	var live []*harness.Target
	for _, t := range targets {
		ok := true
		for _, ref := range []string{env.Images.Busybox, env.Images.Nginx} {
			if ref == "" {
				continue
			}
			if _, err := t.CLI(ctx, "pull", "-q", ref); err != nil {
				log.Error("pull", zap.String("target", string(t.Name)), zap.Error(err))
				env.Report.Note("%s could not pull %s: %v", t.Name, ref, err)
				ok = false
				break
			}
		}
		if ok {
			live = append(live, t)
		}
	}
	return live
}

// probeAccel reads the accelerator off the QEMU command line of a running
// container VM of vch: what vch actually used, kvm or tcg.
func probeAccel(ctx context.Context, log *zap.Logger, env *measure.Env, targets []*harness.Target) {
	for _, t := range targets {
		if t.Name != report.VCH {
			continue
		}
		accel, err := vmAccel(ctx, t, env.Images.Busybox)
		if err != nil {
			log.Warn("accelerator probe", zap.Error(err))
			env.Report.Note("accelerator of vch's VMs unknown: %v", err)
			return
		}
		env.Report.Machine.Accelerator = accel
	}
}

func vmAccel(ctx context.Context, t *harness.Target, image string) (string, error) {
	if _, err := t.CLI(ctx, "run", "-d", "--name", "bench-accel", image, "sleep", "600"); err != nil {
		return "", err
	}
	defer func() { _, _ = t.CLI(context.WithoutCancel(ctx), "rm", "-f", "bench-accel") }()
	info, err := t.API.ContainerInspect(ctx, "bench-accel")
	if err != nil {
		return "", fmt.Errorf("inspect: %w", err)
	}
	if info.State == nil || info.State.Pid <= 0 {
		return "", fmt.Errorf("container VM has no host pid in inspect")
	}
	cmdline, err := readCmdline(info.State.Pid)
	if err != nil {
		return "", err
	}
	accel := sysinfo.Accel(cmdline)
	if accel == "" {
		return "", fmt.Errorf("QEMU command line names no accelerator: %q", strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return accel, nil
}

func readCmdline(pid int) ([]byte, error) {
	out, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "cmdline"))
	if err != nil {
		return nil, fmt.Errorf("read cmdline of pid %d: %w", pid, err)
	}
	return out, nil
}
