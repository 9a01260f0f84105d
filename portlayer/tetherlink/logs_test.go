package tetherlink

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

func TestBacklog(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	exited, _ := json.Marshal(proto.Event{Name: proto.EventExited})
	out := func(off int64, sec int, data string) Record {
		return Record{Record: proto.Record{Kind: proto.KindStdout, Time: t0.Add(time.Duration(sec) * time.Second), Data: []byte(data)}, Off: off}
	}
	exit := func(off int64) Record {
		return Record{Record: proto.Record{Kind: proto.KindEvent, Time: t0, Data: exited}, Off: off}
	}
	// An earlier run's output and exit, then this run's output.
	recs := []Record{out(0, 1, "a\nb\n"), exit(10), out(20, 2, "c\n"), out(30, 3, "d\ne\n")}

	kept, ended := Backlog(recs, compute.LogOptions{Tail: -1}, 20)
	if len(kept) != 3 || ended {
		t.Fatalf("all: got %d records, ended %v; want 3, false", len(kept), ended)
	}
	kept, _ = Backlog(recs, compute.LogOptions{Tail: 2}, 20)
	if len(kept) != 2 || string(kept[0].Data) != "d\n" || string(kept[1].Data) != "e\n" {
		t.Fatalf("tail 2: got %v", kept)
	}
	kept, _ = Backlog(recs, compute.LogOptions{Tail: -1, Since: t0.Add(2 * time.Second), Until: t0.Add(2 * time.Second)}, 20)
	if len(kept) != 1 || string(kept[0].Data) != "c\n" {
		t.Fatalf("since/until: got %v", kept)
	}
	if _, ended := Backlog(recs, compute.LogOptions{Tail: -1}, 0); !ended {
		t.Fatal("an exit at or after the boundary must end the backlog")
	}
	if StreamName(proto.KindStderr) != "stderr" || StreamName(proto.KindStdout) != "stdout" {
		t.Fatal("stream names")
	}
	if n, err := FileSize(filepath.Join(t.TempDir(), "none")); n != 0 || err != nil {
		t.Fatalf("FileSize of a missing file: %d, %v", n, err)
	}
}
