package tetherlink

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// followLog writes a log with an earlier run's exit, then this run's
// output and exit: the follower must pass the first exit (before the
// boundary) and stop at the second.
func followLog(t *testing.T) (path string, boundary int64) {
	t.Helper()
	t0 := time.Unix(100, 0)
	var b bytes.Buffer
	b.Write(proto.EncodeRecord(proto.KindStdout, t0, []byte("old\n")))
	b.Write(proto.EncodeRecord(proto.KindEvent, t0, []byte(`{"name":"process-exited","exitCode":0}`)))
	boundary = int64(b.Len())
	b.Write(proto.EncodeRecord(proto.KindStdout, t0, []byte("out\n")))
	b.Write(proto.EncodeRecord(proto.KindStderr, t0, []byte("err\n")))
	b.Write(proto.EncodeRecord(proto.KindEvent, t0, []byte(`{"name":"process-exited","exitCode":3}`)))
	b.Write(proto.EncodeRecord(proto.KindStdout, t0, []byte("next run\n")))
	path = filepath.Join(t.TempDir(), "output.log")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, boundary
}

func TestFollowStopsAtTheRunsExit(t *testing.T) {
	path, boundary := followLog(t)
	rd := NewRecordReader(path, 0)
	defer rd.Close()
	var got []string
	err := Follow(context.Background(), rd, boundary, time.Millisecond, func() bool { return false }, func(r Record) bool {
		got = append(got, string(r.Data))
		return true
	})
	if err != nil || len(got) != 3 || got[0] != "old\n" || got[1] != "out\n" || got[2] != "err\n" {
		t.Fatalf("Follow: %v, delivered %q", err, got)
	}
}

func TestFollowEnds(t *testing.T) {
	path, _ := followLog(t)
	// emit refusing ends it at once.
	rd := NewRecordReader(path, 0)
	n := 0
	if err := Follow(context.Background(), rd, 1<<40, time.Millisecond, func() bool { return false }, func(Record) bool { n++; return false }); err != nil || n != 1 {
		t.Fatalf("emit false: %v after %d records", err, n)
	}
	rd.Close()
	// over: what the log holds is delivered first (no exit past the
	// boundary here), then it ends.
	rd = NewRecordReader(path, 0)
	n = 0
	if err := Follow(context.Background(), rd, 1<<40, time.Millisecond, func() bool { return true }, func(Record) bool { n++; return true }); err != nil || n != 4 {
		t.Fatalf("over: %v after %d records, want 4", err, n)
	}
	rd.Close()
	// ctx ending a follow that has nothing more to read.
	rd = NewRecordReader(path, 0)
	defer rd.Close()
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err := Follow(ctx, rd, 1<<40, time.Millisecond, func() bool { return false }, func(Record) bool {
		if n++; n == 4 {
			cancel()
		}
		return true
	})
	if !errors.Is(err, context.Canceled) || n != 4 {
		t.Fatalf("ctx: %v after %d records", err, n)
	}
}

func TestAttachOutputLogsOnly(t *testing.T) {
	path, _ := followLog(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	opts := compute.AttachOptions{Logs: true, Stdout: &out, Stderr: &errOut}
	err = AttachOutput(opts, false, path, st.Size(), func(*RecordReader, func(Record) bool) error {
		t.Fatal("followed without Stream")
		return nil
	})
	if err != nil || out.String() != "old\nout\nnext run\n" || errOut.String() != "err\n" {
		t.Fatalf("logs: %v, stdout %q stderr %q", err, out.String(), errOut.String())
	}
	// A tty has one stream.
	out.Reset()
	errOut.Reset()
	if err := AttachOutput(opts, true, path, st.Size(), nil); err != nil || out.String() != "old\nout\nerr\nnext run\n" || errOut.Len() != 0 {
		t.Fatalf("tty logs: %v, stdout %q stderr %q", err, out.String(), errOut.String())
	}
}
