package measure

import (
	"context"
	"fmt"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
)

// volMB is how many MiB the volume measurement writes and reads (1 GiB).
const volMB = 1024

// Volume is measurement 11: writing 1 GiB sequentially into a named volume
// from inside a running container (dd, then sync) and reading it back
// (dd to /dev/null, caches as the write left them). For vch the volume is
// a host-mounted ext4 image served to the VM by virtiofsd; for dockerd a
// directory of the host.
func Volume() Measurement {
	const sec = "11. volume I/O"
	return Measurement{
		Name: "volume",
		Define: func(env *Env) {
			env.Report.Define(sec, "volume.write", "write 1 GiB sequentially into a volume (dd + sync, in a running container)", "MB/s", report.Higher)
			env.Report.Define(sec, "volume.read", "read the 1 GiB back (dd to /dev/null)", "MB/s", report.Higher)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			const vol, name = "bench-vol", "bench-vol-c"
			create := []string{"volume", "create"}
			if t.Name == report.VCH {
				// vch's volumes have a capacity (1 GB by default).
				create = append(create, "--opt", "Capacity=2G")
			}
			if _, err := t.CLI(ctx, append(create, vol)...); err != nil {
				return err
			}
			defer func() { _, _ = t.CLI(context.WithoutCancel(ctx), "volume", "rm", "-f", vol) }()
			if _, err := t.CLI(ctx, "run", "-d", "--name", name, "-v", vol+":/v", env.Images.Busybox, "sleep", "3600"); err != nil {
				return err
			}
			bytes := float64(volMB) * (1 << 20)
			start := time.Now()
			if _, err := t.CLI(ctx, "exec", name, "sh", "-c", fmt.Sprintf("dd if=/dev/zero of=/v/blob bs=1M count=%d 2>/dev/null && sync", volMB)); err != nil {
				return err
			}
			set(env, t, "volume.write", bytes/1e6/time.Since(start).Seconds())
			start = time.Now()
			out, err := t.CLI(ctx, "exec", name, "sh", "-c", "dd if=/v/blob of=/dev/null bs=1M 2>&1 | head -1")
			if err != nil {
				return err
			}
			took := time.Since(start)
			if want := fmt.Sprintf("%d+0 records in", volMB); len(out) < len(want) || out[:len(want)] != want {
				return fmt.Errorf("volume read: dd says %q", out)
			}
			set(env, t, "volume.read", bytes/1e6/took.Seconds())
			return ctx.Err()
		},
	}
}
