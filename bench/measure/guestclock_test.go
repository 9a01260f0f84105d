package measure

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

func event(t *testing.T, name string, at time.Time) []byte {
	t.Helper()
	data, err := json.Marshal(proto.Event{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return proto.EncodeRecord(proto.KindEvent, at, data)
}

// TestSplitBoot writes the records a tether would and checks the split:
// QEMU launched at 0, the kernel started at 0.3 s (host), the tether
// reported at 1.5 s and "mounted" reached the host at 1.7 s having been
// written at guest boot time 1.4 s.
func TestSplitBoot(t *testing.T) {
	base := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	id := "abc123"
	dir := filepath.Join(t.TempDir(), "containers", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := event(t, proto.EventMounted, base.Add(-time.Hour)) // a previous run
	var log []byte
	log = append(log, old...)
	log = append(log, proto.EncodeRecord(proto.KindStdout, base, []byte("hi"))...)
	log = append(log, event(t, proto.EventMounted, base.Add(1400*time.Millisecond))...)
	if err := os.WriteFile(filepath.Join(dir, "output.log"), log, 0o644); err != nil {
		t.Fatal(err)
	}
	status := `{"state":"exited","logStart":` + itoa(len(old)) + `}`
	if err := os.WriteFile(filepath.Join(dir, "status.json"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []Step{{"launch", base}, {"tether", base.Add(1500 * time.Millisecond)}, {"mounted", base.Add(1700 * time.Millisecond)}}
	got, ok := SplitBoot(filepath.Dir(filepath.Dir(dir)), id, steps)
	if !ok {
		t.Fatal("no split")
	}
	want := GuestSplit{QEMU: 300 * time.Millisecond, Kernel: 1200 * time.Millisecond}
	if got != want {
		t.Fatalf("split = %+v, want %+v", got, want)
	}
	if _, ok := SplitBoot(t.TempDir(), id, steps); ok {
		t.Fatal("split without a log")
	}
	if _, ok := SplitBoot(filepath.Dir(dir), id, steps[:1]); ok {
		t.Fatal("split without the steps")
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
