package control

import (
	"strings"

	"github.com/vchproject/vch/tether/proto"
)

// Handshake is the guest side of the control channel's handshake as a pure
// state machine: feed it ticks (every 100 ms) and the lines read from the
// port; write what it returns. Once Done, the rest of the stream is SSH and
// nothing more may be written by the handshake.
type Handshake struct {
	done bool
}

// Tick returns the line to write on a timer tick: HelloLine until the host
// said go, then nothing.
func (h *Handshake) Tick() string {
	if h.done {
		return ""
	}
	return proto.HelloLine
}

// Line takes one line read from the port (with its newline, if any) and
// returns what to write and whether the handshake is complete. A line that
// ends with GoLine counts: stale bytes of an earlier session may precede it
// on the same line.
func (h *Handshake) Line(line string) (reply string, done bool) {
	if h.done {
		return "", true
	}
	if strings.HasSuffix(line, proto.GoLine) {
		h.done = true
		return proto.AckLine, true
	}
	return "", false
}

// Done reports whether the host said go.
func (h *Handshake) Done() bool { return h.done }
