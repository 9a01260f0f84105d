package qemu

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
	"github.com/vchproject/vch/tether/proto"
)

// A VM that died while vchd was down is marked exited on New, with the
// exit code its log holds (or 137 when the tether never reported one).
func TestRecoverDeadVMs(t *testing.T) {
	p, root := unitProvider(t)
	p.Close()
	t0 := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	event := func(at time.Time, ev string) []byte {
		return proto.EncodeRecord(proto.KindEvent, at, []byte(ev))
	}
	oldRun := append(event(t0, `{"name":"process-started","pid":9}`), event(t0, `{"name":"process-exited","exitCode":1}`)...)
	for _, tc := range []struct {
		name     string
		id       string
		log      [][]byte // records of the run that died
		wantCode int
		wantStep []string
	}{
		{"reported exit", "1111111111111111111111111111111111111111111111111111111111111111",
			[][]byte{event(t0.Add(time.Second), `{"name":"tether"}`), event(t0.Add(2*time.Second), `{"name":"process-started","pid":7}`), event(t0.Add(3*time.Second), `{"name":"process-exited","exitCode":5}`)},
			5, []string{"launch", "tether", "process-started", "process-exited", "vm-exited"}},
		{"powered off", "2222222222222222222222222222222222222222222222222222222222222222",
			[][]byte{event(t0.Add(time.Second), `{"name":"process-started","pid":7}`),
				// Powered off in the middle of writing a record.
				proto.EncodeRecord(proto.KindStdout, t0.Add(time.Second), []byte("cut short"))[:20]},
			137, []string{"launch", "process-started", "vm-exited"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, tc.id)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			spec := compute.Spec{ID: tc.id, Image: testImage, Process: compute.Process{Args: []string{"true"}}}
			if err := saveSpec(dir, &spec); err != nil {
				t.Fatal(err)
			}
			logData := append([]byte(nil), oldRun...)
			for _, r := range tc.log {
				logData = append(logData, r...)
			}
			if err := os.WriteFile(filepath.Join(dir, fileLog), logData, 0o600); err != nil {
				t.Fatal(err)
			}
			// A pidfile naming a process that is not this container's QEMU
			// (our own test binary) must not be adopted.
			if err := os.WriteFile(filepath.Join(dir, filePid), []byte("1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			rec := record{
				Status:   compute.Status{State: compute.StateRunning, Pid: 1, StartedAt: t0, Boot: []compute.Step{{Name: "launch", At: t0}}},
				LogStart: int64(len(oldRun)), Launched: true, HostKey: "ssh-ed25519 AAAA",
			}
			if err := saveRecord(dir, &rec); err != nil {
				t.Fatal(err)
			}

			q, _ := unitProviderAt(t, root)
			defer q.Close()
			c, err := q.Inspect(context.Background(), tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if c.Status.State != compute.StateExited || c.Status.ExitCode != tc.wantCode || c.Status.Pid != 0 || c.Status.FinishedAt.IsZero() {
				t.Fatalf("status %+v, want exited %d", c.Status, tc.wantCode)
			}
			var names []string
			for _, s := range c.Status.Boot {
				names = append(names, s.Name)
			}
			if len(names) != len(tc.wantStep) {
				t.Fatalf("boot steps %v, want %v", names, tc.wantStep)
			}
			for i := range names {
				if names[i] != tc.wantStep[i] {
					t.Fatalf("boot steps %v, want %v", names, tc.wantStep)
				}
			}
			// A partial record at the end is dropped: the next run appends
			// on a record boundary.
			rd := tetherlink.NewRecordReader(filepath.Join(dir, fileLog), 0)
			defer rd.Close()
			if _, err := rd.Poll(); err != nil || rd.Pending() != 0 || rd.Skipped() != 0 {
				t.Fatalf("log after recovery: %d pending, %d skipped, %v", rd.Pending(), rd.Skipped(), err)
			}
			// The exit is dated by the last event the guest wrote.
			last := c.Status.Boot[len(c.Status.Boot)-2].At
			if !c.Status.FinishedAt.Equal(last) {
				t.Fatalf("finished %v, want the last event's %v", c.Status.FinishedAt, last)
			}
			// Backlog events keep the guest's timestamps.
			if tc.wantCode == 5 && !c.Status.Boot[1].At.Equal(t0.Add(time.Second)) {
				t.Fatalf("backlog step stamped %v, want the guest's %v", c.Status.Boot[1].At, t0.Add(time.Second))
			}
			if _, err := os.Stat(filepath.Join(dir, filePid)); !os.IsNotExist(err) {
				t.Fatalf("stale pidfile left: %v", err)
			}
			_, persisted, err := loadContainer(dir)
			if err != nil || persisted.State != compute.StateExited || persisted.Launched {
				t.Fatalf("persisted %+v %v", persisted, err)
			}
		})
	}
}
