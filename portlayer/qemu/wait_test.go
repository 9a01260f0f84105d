package qemu

import (
	"testing"

	"github.com/vchproject/vch/portlayer/compute"
)

func TestWaitDone(t *testing.T) {
	created := waitState{}
	running := waitState{running: true}
	exited1 := waitState{exits: 1}
	running2 := waitState{running: true, exits: 1}
	removed := waitState{exits: 1, removed: true}
	for _, tc := range []struct {
		name    string
		cond    compute.WaitCondition
		at, now waitState
		want    bool
	}{
		{"not-running on created", compute.WaitNotRunning, created, created, true},
		{"not-running while running", compute.WaitNotRunning, running, running, false},
		{"not-running after exit", compute.WaitNotRunning, running, exited1, true},
		{"not-running after removal", compute.WaitNotRunning, running, removed, true},
		{"next-exit on created", compute.WaitNextExit, created, created, false},
		{"next-exit while the run goes on", compute.WaitNextExit, created, running, false},
		{"next-exit after the run", compute.WaitNextExit, running, exited1, true},
		{"next-exit on exited waits for the next run", compute.WaitNextExit, exited1, running2, false},
		{"next-exit ends with removal", compute.WaitNextExit, exited1, removed, true},
		{"removed while exited", compute.WaitRemoved, exited1, exited1, false},
		{"removed after runs", compute.WaitRemoved, created, waitState{exits: 5}, false},
		{"removed", compute.WaitRemoved, created, removed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := waitDone(tc.cond, tc.at, tc.now); got != tc.want {
				t.Fatalf("waitDone = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExitStatus(t *testing.T) {
	three := 3
	for _, tc := range []struct {
		name     string
		exited   *int
		failed   bool
		errCode  int
		errMsg   string
		wantCode int
		wantMsg  string
	}{
		{"process reported", &three, false, 0, "", 3, ""},
		{"reported wins over failure", &three, true, 127, "x", 3, ""},
		{"start failure", nil, true, 127, `exec: "foo": executable file not found in $PATH`, 127, `exec: "foo": executable file not found in $PATH`},
		{"start failure without code", nil, true, 0, "mount failed", 128, "mount failed"},
		{"powered off", nil, false, 0, "", 137, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := exitStatus(tc.exited, tc.failed, tc.errCode, tc.errMsg)
			if code != tc.wantCode || msg != tc.wantMsg {
				t.Fatalf("got %d %q, want %d %q", code, msg, tc.wantCode, tc.wantMsg)
			}
		})
	}
}
