package tether_test

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

// TestBootTiming boots `true` a few times and reports, as the host sees
// them, the time from starting QEMU to the EventStarted record landing in
// the log file, and to QEMU's exit. It asserts the lifecycle of each run;
// the figures are for the log (under TCG on a shared machine they vary).
func TestBootTiming(t *testing.T) {
	const runs = 3
	var started, exited []time.Duration
	for i := 0; i < runs; i++ {
		v := newVM(t, "true")
		v.start(t)
		seen := make(chan time.Duration, 1)
		go func() { seen <- v.pollStarted() }()
		l := v.wait(t)
		if !reflect.DeepEqual(l.names(), lifecycle) {
			t.Fatalf("run %d events %v", i, l.events)
		}
		s := <-seen
		if s == 0 {
			t.Fatalf("run %d: EventStarted never seen while running", i)
		}
		started = append(started, s)
		exited = append(exited, l.wall)
		t.Logf("run %d: process started after %v, QEMU exited after %v", i, s.Round(time.Millisecond), l.wall.Round(time.Millisecond))
	}
	t.Logf("median: started %v, exited %v", median(started).Round(time.Millisecond), median(exited).Round(time.Millisecond))
}

// pollStarted watches the log file until an EventStarted record appears and
// returns the time since QEMU started, or 0 if QEMU exited first.
func (v *vm) pollStarted() time.Duration {
	for {
		b, _ := os.ReadFile(v.logFile)
		for len(b) > 0 {
			r, n, err := proto.DecodeRecord(b)
			if err != nil {
				break
			}
			b = b[n:]
			var ev proto.Event
			if r.Kind == proto.KindEvent && json.Unmarshal(r.Data, &ev) == nil && ev.Name == proto.EventStarted {
				return time.Since(v.started)
			}
		}
		select {
		case <-v.exited:
			return 0
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
