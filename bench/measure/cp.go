package measure

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/vchproject/vch/bench/harness"
	"github.com/vchproject/vch/bench/report"
)

// cpBytes is the size of the file docker cp moves each way.
const cpBytes = 500_000_000

// Cp is measurement 10 (after push): `docker cp` of a 500 MB file into a running
// container's writable layer and back out (for vch: a tar streamed over
// the VM's control channel and extracted by the tether in the guest).
func Cp() Measurement {
	const sec = "10. docker cp"
	return Measurement{
		Name: "cp",
		Define: func(env *Env) {
			env.Report.Define(sec, "cp.in", "`docker cp` 500 MB file into a running container", "MB/s", report.Higher)
			env.Report.Define(sec, "cp.out", "`docker cp` 500 MB file out of a running container", "MB/s", report.Higher)
		},
		Run: func(ctx context.Context, env *Env, t *harness.Target) error {
			defer func() { _ = RemoveAll(context.WithoutCancel(ctx), t) }()
			dir, err := os.MkdirTemp("/var/tmp", "vchbench-cp-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			src := filepath.Join(dir, "blob")
			if err := writeRandom(src, cpBytes); err != nil {
				return err
			}
			const name = "bench-cp"
			if _, err := t.CLI(ctx, "run", "-d", "--name", name, env.Images.Busybox, "sleep", "3600"); err != nil {
				return err
			}
			start := time.Now()
			if _, err := t.CLI(ctx, "cp", src, name+":/tmp/blob"); err != nil {
				return err
			}
			set(env, t, "cp.in", cpBytes/1e6/time.Since(start).Seconds())
			out := filepath.Join(dir, "out")
			start = time.Now()
			if _, err := t.CLI(ctx, "cp", name+":/tmp/blob", out); err != nil {
				return err
			}
			took := time.Since(start)
			if st, err := os.Stat(out); err != nil || st.Size() != cpBytes {
				return fmt.Errorf("cp out: %v (size %v)", err, st)
			}
			set(env, t, "cp.out", cpBytes/1e6/took.Seconds())
			return ctx.Err()
		},
	}
}

// writeRandom writes n random bytes to path (incompressible, and no
// sparse shortcut anywhere).
func writeRandom(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(f, rand.Reader, n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
