package tetherlink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchproject/vch/tether/proto"
)

func TestRecordReaderPartialRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "output.log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t0 := time.Unix(1700000000, 5)
	r1 := proto.EncodeRecord(proto.KindStdout, t0, []byte("hello\n"))
	r2 := proto.EncodeRecord(proto.KindStderr, t0.Add(time.Second), []byte("oops\n"))
	r3 := proto.EncodeRecord(proto.KindEvent, t0.Add(2*time.Second), []byte(`{"name":"process-exited","exitCode":3}`))

	rd := NewRecordReader(path, 0)
	defer rd.Close()
	type want struct {
		kind byte
		data string
		off  int64
	}
	steps := []struct {
		name  string
		write []byte
		want  []want
	}{
		{"empty file", nil, nil},
		{"half a header", r1[:7], nil},
		{"rest of record one and half of two", append(append([]byte{}, r1[7:]...), r2[:len(r2)-2]...),
			[]want{{proto.KindStdout, "hello\n", 0}}},
		{"end of two, all of three", append(append([]byte{}, r2[len(r2)-2:]...), r3...),
			[]want{{proto.KindStderr, "oops\n", int64(len(r1))}, {proto.KindEvent, `{"name":"process-exited","exitCode":3}`, int64(len(r1) + len(r2))}}},
		{"nothing new", nil, nil},
	}
	for _, s := range steps {
		if _, err := f.Write(s.write); err != nil {
			t.Fatal(err)
		}
		got, err := rd.Poll()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if len(got) != len(s.want) {
			t.Fatalf("%s: got %d records, want %d", s.name, len(got), len(s.want))
		}
		for i, w := range s.want {
			if got[i].Kind != w.kind || string(got[i].Data) != w.data || got[i].Off != w.off {
				t.Fatalf("%s: record %d = kind %d %q @%d, want %+v", s.name, i, got[i].Kind, got[i].Data, got[i].Off, w)
			}
		}
	}
	if len(rd.pending) != 0 || rd.skipped != 0 {
		t.Fatalf("left %d pending bytes, skipped %d", len(rd.pending), rd.skipped)
	}
}

func TestRecordReaderResyncsAfterGarbage(t *testing.T) {
	rd := &RecordReader{}
	good := proto.EncodeRecord(proto.KindStdout, time.Unix(1, 0), []byte("x"))
	rd.pending = append([]byte{0xff, 0xee}, good...)
	got := rd.decode()
	if len(got) != 1 || string(got[0].Data) != "x" || got[0].Off != 2 || rd.skipped != 2 {
		t.Fatalf("got %+v skipped %d", got, rd.skipped)
	}
	if !got[0].Time.Equal(time.Unix(1, 0)) {
		t.Fatalf("time %v", got[0].Time)
	}
}

func TestSplitLines(t *testing.T) {
	rec := func(s string) Record {
		return Record{Record: proto.Record{Kind: proto.KindStdout, Data: []byte(s)}}
	}
	got := SplitLines([]Record{rec("a\nb\n"), rec("c"), rec("d\ne")})
	var parts []string
	for _, r := range got {
		parts = append(parts, string(r.Data))
	}
	if s := strings.Join(parts, "|"); s != "a\n|b\n|c|d\n|e" {
		t.Fatalf("split: %q", s)
	}
}
