package qemu

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
)

// randomnessProbe prints 32 bytes of /dev/urandom in hex, then the boot_id.
const randomnessProbe = `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; echo; cat /proc/sys/kernel/random/boot_id`

// TestBootFreshRandomness boots several VMs and checks that no two read
// the same /dev/urandom bytes or boot_id. Cold boots pass this on their
// own; the test guards the host entropy the tether credits at start, which
// is what keeps clones of one saved template apart.
func TestBootFreshRandomness(t *testing.T) {
	p := newRealProvider(t, t.TempDir())
	ctx := context.Background()
	const n = 3
	seen := map[string]string{}
	for i := 0; i < n; i++ {
		id := strings.Repeat(fmt.Sprintf("e%d", i), 32)
		if err := p.Create(ctx, compute.Spec{ID: id, Image: testImage, Process: compute.Process{Args: []string{"sh", "-c", randomnessProbe}}}); err != nil {
			t.Fatal(err)
		}
		if err := p.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		st, err := p.Wait(ctx, id, compute.WaitNotRunning)
		if err != nil {
			t.Fatal(err)
		}
		if st.ExitCode != 0 {
			t.Fatalf("VM %d: %+v", i, st)
		}
		ch, err := p.Logs(ctx, id, compute.LogOptions{Tail: -1})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		for e := range ch {
			out.Write(e.Data)
		}
		lines := strings.Fields(out.String())
		if len(lines) != 2 || len(lines[0]) != 64 || len(lines[1]) != 36 {
			t.Fatalf("VM %d: output %q, want 64 hex digits and a boot_id", i, out.String())
		}
		for _, v := range lines {
			if prev, dup := seen[v]; dup {
				t.Fatalf("VM %d read %s, as %s did", i, v, prev)
			}
			seen[v] = fmt.Sprintf("VM %d", i)
		}
		if err := p.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
}
