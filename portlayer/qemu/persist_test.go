package qemu

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
)

func TestStatePersistenceRoundTrip(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 11, 22, 14, 0, 0, 123456789, time.UTC)
	spec := compute.Spec{
		ID: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Image: "sha256:abc",
		Process:  compute.Process{Args: []string{"sh", "-c", "exit 3"}, Env: []string{"A=1"}, Tty: true, OpenStdin: true},
		Hostname: "h", Hosts: []compute.HostEntry{{IP: "10.0.0.1", Names: []string{"db", "db.local"}}},
		CPUs: 2, MemoryMB: 300, DiskSize: 1 << 30, Meta: []byte(`{"name":"x"}`),
	}
	rec := record{
		Status: compute.Status{
			State: compute.StateRunning, Pid: 42, StartedAt: at, ExitCode: 0,
			Boot: []compute.Step{{Name: "launch", At: at}, {Name: "process-started", At: at.Add(time.Second)}},
		},
		LogStart: 4096, Launched: true, HostKey: "ssh-ed25519 AAAA",
	}
	if err := saveSpec(dir, &spec); err != nil {
		t.Fatal(err)
	}
	if err := saveRecord(dir, &rec); err != nil {
		t.Fatal(err)
	}
	gotSpec, gotRec, err := loadContainer(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotSpec, spec) {
		t.Fatalf("spec:\n got %+v\nwant %+v", gotSpec, spec)
	}
	if !reflect.DeepEqual(gotRec, rec) {
		t.Fatalf("record:\n got %+v\nwant %+v", gotRec, rec)
	}
	// status.json carries the compute status fields at its top level.
	b, err := os.ReadFile(filepath.Join(dir, fileStatus))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"state": "running"`, `"pid": 42`, `"logStart": 4096`} {
		if !strings.Contains(string(b), key) {
			t.Fatalf("status.json lacks %s:\n%s", key, b)
		}
	}
	// Atomic writes leave no temporary files behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("dir holds %d entries, want spec.json and status.json", len(entries))
	}
}
