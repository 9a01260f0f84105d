package qemu

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
)

// TestParallelVMs boots several VMs at once on one provider: each keeps
// its own exit code and output.
func TestParallelVMs(t *testing.T) {
	p := newRealProvider(t, t.TempDir())
	ctx := context.Background()
	const n = 2
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		id := strings.Repeat(fmt.Sprint(i+1), 64)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				spec := compute.Spec{ID: id, Image: testImage, Process: compute.Process{
					Args: []string{"sh", "-c", fmt.Sprintf("echo vm%d; exit %d", i, 10+i)},
				}}
				if err := p.Create(ctx, spec); err != nil {
					return err
				}
				if err := p.Start(ctx, id); err != nil {
					return err
				}
				st, err := p.Wait(ctx, id, compute.WaitNotRunning)
				if err != nil {
					return err
				}
				if st.ExitCode != 10+i {
					return fmt.Errorf("%s: exit %d, want %d", id[:4], st.ExitCode, 10+i)
				}
				ch, err := p.Logs(ctx, id, compute.LogOptions{Tail: -1})
				if err != nil {
					return err
				}
				var out string
				for e := range ch {
					out += string(e.Data)
				}
				if want := fmt.Sprintf("vm%d\n", i); out != want {
					return fmt.Errorf("%s: output %q, want %q", id[:4], out, want)
				}
				return p.Remove(ctx, id)
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if list, _ := p.List(ctx); len(list) != 0 {
		t.Fatalf("%d containers left", len(list))
	}
}
