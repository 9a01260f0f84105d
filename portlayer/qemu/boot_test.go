package qemu

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
)

// TestBootSteps boots `true` a few times and checks that Status.Boot holds
// every step, in order, on one clock; it logs the medians bench reads
// from inspect (launch -> process-started, launch -> vm-exited).
func TestBootSteps(t *testing.T) {
	p := newRealProvider(t, t.TempDir())
	ctx := context.Background()
	const runs = 5
	id := "b00750000000000000000000000000000000000000000000000000000000000b"
	if err := p.Create(ctx, compute.Spec{ID: id, Image: testImage, Process: compute.Process{Args: []string{"true"}}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"launch", "tether", "mounted", "process-started", "process-exited", "poweroff", "vm-exited"}
	var toTether, toStarted, toExited, startCall []time.Duration
	for i := 0; i < runs; i++ {
		called := time.Now()
		if err := p.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		startCall = append(startCall, time.Since(called))
		st, err := p.Wait(ctx, id, compute.WaitNotRunning)
		if err != nil {
			t.Fatal(err)
		}
		if st.ExitCode != 0 {
			t.Fatalf("run %d: %+v", i, st)
		}
		at := map[string]time.Time{}
		var names []string
		for j, s := range st.Boot {
			names = append(names, s.Name)
			at[s.Name] = s.At
			if j > 0 && s.At.Before(st.Boot[j-1].At) {
				t.Fatalf("run %d: step %s at %v before %s at %v", i, s.Name, s.At, st.Boot[j-1].Name, st.Boot[j-1].At)
			}
		}
		if len(names) != len(want) {
			t.Fatalf("run %d: steps %v, want %v", i, names, want)
		}
		for j := range want {
			if names[j] != want[j] {
				t.Fatalf("run %d: steps %v, want %v", i, names, want)
			}
		}
		if !st.StartedAt.Equal(at["process-started"]) || !st.FinishedAt.Equal(at["vm-exited"]) {
			t.Fatalf("run %d: StartedAt/FinishedAt disagree with the steps: %+v", i, st)
		}
		toTether = append(toTether, at["tether"].Sub(at["launch"]))
		toStarted = append(toStarted, at["process-started"].Sub(at["launch"]))
		toExited = append(toExited, at["vm-exited"].Sub(at["launch"]))
	}
	t.Logf("boot of `true` over %d runs (accelerator %s), medians: Start call %v; launch->tether %v; launch->process-started %v; launch->vm-exited %v",
		runs, p.accelerator(ctx), median(startCall), median(toTether), median(toStarted), median(toExited))
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
