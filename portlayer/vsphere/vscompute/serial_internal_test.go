package vscompute

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

// opLog is a log file that records what was done to it, in order, in
// the same list as the events handed on.
type opLog struct {
	ops     *[]string
	syncErr error
}

func (l opLog) Write(b []byte) (int, error) {
	rec, _, err := proto.DecodeRecord(b)
	if err != nil {
		return 0, err
	}
	*l.ops = append(*l.ops, fmt.Sprintf("write %d %s", rec.Kind, rec.Data))
	return len(b), nil
}

func (l opLog) Sync() error {
	*l.ops = append(*l.ops, "sync")
	return l.syncErr
}

func eventRecord(t *testing.T, ev proto.Event) []byte {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return proto.EncodeRecord(proto.KindEvent, time.Unix(1, 0), b)
}

// TestAppendRecordsSyncsBeforeExit: a container's output is on disk
// before its exit is handed on (vic-machine configure powers the
// endpoint VM off hard; a user who saw the exit reads the output after
// the restart), and at the end of the stream. Records split across
// reads are whole in the log; an event is handed on after its record is
// written.
func TestAppendRecordsSyncsBeforeExit(t *testing.T) {
	// A hello line (answered to a probe) between records is skipped and
	// counted.
	const hello = "vch-serial-hello abc log token\n"
	var stream []byte
	stream = append(stream, hello...)
	stream = append(stream, eventRecord(t, proto.Event{Name: proto.EventStarted, Pid: 7})...)
	stream = append(stream, proto.EncodeRecord(proto.KindStdout, time.Unix(2, 0), []byte("hello"))...)
	stream = append(stream, eventRecord(t, proto.Event{Name: proto.EventExited, ExitCode: 3})...)
	stream = append(stream, eventRecord(t, proto.Event{Name: proto.EventPowerOff})...)

	var ops []string
	event := func(ev tevent) { ops = append(ops, "event "+ev.Name) }
	// One byte per read: every record arrives in pieces.
	skipped, err := appendRecords(iotest.OneByteReader(bytes.NewReader(stream)), opLog{ops: &ops}, event)
	if err != nil {
		t.Fatal(err)
	}
	if skipped != len(hello) {
		t.Errorf("skipped %d bytes, want the hello's %d", skipped, len(hello))
	}
	want := []string{
		`write 3 {"name":"process-started","pid":7}`, "event process-started",
		"write 1 hello",
		`write 3 {"name":"process-exited","exitCode":3}`, "sync", "event process-exited",
		`write 3 {"name":"poweroff"}`, "event poweroff",
		"sync",
	}
	if !slices.Equal(ops, want) {
		t.Errorf("operations:\n got %q\nwant %q", ops, want)
	}

	// A failed start is synced as an exit is.
	ops = nil
	failed := eventRecord(t, proto.Event{Name: proto.EventError, Error: "no such file"})
	if _, err := appendRecords(bytes.NewReader(failed), opLog{ops: &ops}, event); err != nil {
		t.Fatal(err)
	}
	if want := []string{`write 3 {"name":"error","error":"no such file"}`, "sync", "event error", "sync"}; !slices.Equal(ops, want) {
		t.Errorf("a failed start's operations:\n got %q\nwant %q", ops, want)
	}

	// A log that cannot be synced ends the copy before the exit is
	// handed on: nobody is told of an exit whose output may be lost.
	ops = nil
	broken := errors.New("I/O error")
	exit := eventRecord(t, proto.Event{Name: proto.EventExited})
	if _, err := appendRecords(bytes.NewReader(exit), opLog{ops: &ops, syncErr: broken}, event); !errors.Is(err, broken) {
		t.Errorf("appendRecords with a failing sync: %v, want %v", err, broken)
	}
	if slices.Contains(ops, "event process-exited") {
		t.Errorf("the exit was handed on although the log's sync failed: %q", ops)
	}
}
