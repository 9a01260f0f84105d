package qemu

import (
	"strings"
	"testing"

	"github.com/vchproject/vch/tether/proto"
)

func TestSplitLines(t *testing.T) {
	rec := func(s string) logRecord {
		return logRecord{Record: proto.Record{Kind: proto.KindStdout, Data: []byte(s)}}
	}
	got := splitLines([]logRecord{rec("a\nb\n"), rec("c"), rec("d\ne")})
	var parts []string
	for _, r := range got {
		parts = append(parts, string(r.Data))
	}
	if s := strings.Join(parts, "|"); s != "a\n|b\n|c|d\n|e" {
		t.Fatalf("split: %q", s)
	}
}
