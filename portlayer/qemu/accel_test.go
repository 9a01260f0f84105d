package qemu

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestAutoAccelerator(t *testing.T) {
	for _, tc := range []struct {
		name     string
		device   bool
		probeErr error
		want     string
		probes   int
	}{
		{"no device", false, nil, AccelTCG, 0},
		{"probe boot fails", true, errors.New("KVM internal error"), AccelTCG, 1},
		{"probe boot works", true, nil, AccelKVM, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probes := 0
			probe := WithKVMProbe(func(context.Context) error { probes++; return tc.probeErr })
			p, root := unitProvider(t, probe)
			p.cfg.Accel = AccelAuto
			p.kvmDevice = filepath.Join(t.TempDir(), "kvm")
			if tc.device {
				if err := os.WriteFile(p.kvmDevice, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			if got := p.accelerator(ctx); got != tc.want {
				t.Fatalf("accelerator %q, want %q", got, tc.want)
			}
			if got := p.accelerator(ctx); got != tc.want || probes != tc.probes {
				t.Fatalf("second call %q after %d probes, want %q after %d", got, probes, tc.want, tc.probes)
			}
			// The verdict is cached in Root: a restarted provider does not probe.
			q, _ := unitProviderAt(t, root, WithKVMProbe(func(context.Context) error {
				t.Fatal("probed again despite the cached verdict")
				return nil
			}))
			q.cfg.Accel = AccelAuto
			q.kvmDevice = p.kvmDevice
			if got := q.accelerator(ctx); got != tc.want {
				t.Fatalf("cached verdict %q, want %q", got, tc.want)
			}
		})
	}
	// An explicit accelerator is used as configured, without probing.
	p, _ := unitProvider(t, WithKVMProbe(func(context.Context) error { t.Fatal("probed"); return nil }))
	if got := p.accelerator(context.Background()); got != AccelTCG {
		t.Fatalf("explicit tcg gave %q", got)
	}
}
