package measure

import (
	"context"
	"fmt"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
	"github.com/vchproject/vch/bench/stats"
)

// execBytes is what the throughput figure streams to the CLI.
const execBytes = 100_000_000

// Exec is measurement 8: `docker exec c true` latency in a running
// container (one new channel on the VM's control connection for vch), and
// the throughput of an exec writing 100 MB to stdout.
func Exec() Measurement {
	const sec = "8. Exec"
	return Measurement{
		Name: "exec",
		Define: func(env *Env) {
			env.Report.Define(sec, "exec.median", "`docker exec c true`, median", "s", report.Lower)
			env.Report.Define(sec, "exec.p90", "`docker exec c true`, p90", "s", report.Lower)
			env.Report.Define(sec, "exec.throughput", "`docker exec c head -c 100000000 /dev/zero`", "MB/s", report.Higher)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			const name = "bench-exec"
			if _, err := t.CLI(ctx, "run", "-d", "--name", name, env.Images.Busybox, "sleep", "3600"); err != nil {
				return err
			}
			// one warm-up exec, not counted (first-use caches, the control
			// connection's handshake)
			if _, err := t.CLI(ctx, "exec", name, "true"); err != nil {
				return err
			}
			var durs []time.Duration
			for i := 0; i < env.Runs && ctx.Err() == nil; i++ {
				d, err := timeCLI(ctx, t, "exec", name, "true")
				if err != nil {
					return err
				}
				durs = append(durs, d)
			}
			xs := stats.Seconds(durs)
			if med, ok := stats.Median(xs); ok {
				p90, _ := stats.Percentile(xs, 90)
				setSamples(env, t, "exec.median", med, xs)
				set(env, t, "exec.p90", p90)
			}
			start := time.Now()
			out, err := t.CLI(ctx, "exec", name, "head", "-c", fmt.Sprint(execBytes), "/dev/zero")
			took := time.Since(start)
			if err != nil {
				return err
			}
			if len(out) != execBytes {
				return fmt.Errorf("exec throughput: got %d bytes, want %d", len(out), execBytes)
			}
			set(env, t, "exec.throughput", execBytes/1e6/took.Seconds())
			return ctx.Err()
		},
	}
}
