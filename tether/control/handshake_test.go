package control

import (
	"testing"

	"github.com/vchproject/vch/tether/proto"
)

// TestHandshake drives the state machine with scripted inputs: "tick" or a
// line; each step lists what must be written and whether it is done.
func TestHandshake(t *testing.T) {
	type step struct {
		in    string // "tick" or a line
		write string
		done  bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"hello until go", []step{
			{"tick", proto.HelloLine, false},
			{"tick", proto.HelloLine, false},
			{proto.GoLine, proto.AckLine, true},
			{"tick", "", true},
		}},
		{"noise ignored", []step{
			{"tick", proto.HelloLine, false},
			{"SSH-2.0-Go\r\n", "", false},
			{"VCH-HOST-G\n", "", false},
			{"tick", proto.HelloLine, false},
			{"\x00\x01junk" + proto.GoLine, proto.AckLine, true},
		}},
		{"go before any tick", []step{
			{proto.GoLine, proto.AckLine, true},
			{proto.GoLine, "", true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Handshake
			for i, s := range tc.steps {
				var got string
				if s.in == "tick" {
					got = h.Tick()
				} else {
					got, _ = h.Line(s.in)
				}
				if got != s.write || h.Done() != s.done {
					t.Fatalf("step %d (%q): wrote %q done=%v, want %q done=%v", i, s.in, got, h.Done(), s.write, s.done)
				}
			}
		})
	}
}
