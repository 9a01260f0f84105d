package tether

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vchproject/vch/tether/proto"
)

func TestRecordWriterSplitsAndEncodes(t *testing.T) {
	var buf bytes.Buffer
	w := &recordWriter{w: &buf}
	big := bytes.Repeat([]byte("x"), proto.MaxRecordPayload+10)
	if _, err := (streamWriter{r: w, kind: proto.KindStderr}).Write(big); err != nil {
		t.Fatal(err)
	}
	if err := w.event(proto.Event{Name: proto.EventExited, ExitCode: 3}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	var sizes []int
	var ev proto.Event
	for len(b) > 0 {
		r, n, err := proto.DecodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		b = b[n:]
		if time.Since(r.Time) < 0 {
			t.Fatalf("record from the future: %v", r.Time)
		}
		switch r.Kind {
		case proto.KindStderr:
			sizes = append(sizes, len(r.Data))
		case proto.KindEvent:
			if err := json.Unmarshal(r.Data, &ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(sizes) != 2 || sizes[0] != proto.MaxRecordPayload || sizes[1] != 10 {
		t.Fatalf("chunks %v", sizes)
	}
	if ev != (proto.Event{Name: proto.EventExited, ExitCode: 3}) {
		t.Fatalf("event %+v", ev)
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		ws   unix.WaitStatus
		want int
	}{
		{0, 0},
		{3 << 8, 3},
		{unix.WaitStatus(unix.SIGTERM), 143},
		{unix.WaitStatus(unix.SIGKILL), 137},
	} {
		if got := exitCode(tc.ws); got != tc.want {
			t.Errorf("exitCode(%#x) = %d, want %d", uint32(tc.ws), got, tc.want)
		}
	}
	if got := bootClock(1_000, 2*time.Second); got != 2_000_001_000 {
		t.Errorf("bootClock = %d", got)
	}
}
