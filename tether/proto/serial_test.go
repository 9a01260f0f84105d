package proto

import (
	"strings"
	"testing"
)

func TestSerialHello(t *testing.T) {
	id, tok := strings.Repeat("ab", 32), strings.Repeat("0f", 16)
	gid, gport, gtok, err := ParseSerialHello(SerialHello(id, PortLog, tok))
	if err != nil || gid != id || gport != PortLog || gtok != tok {
		t.Fatalf("round trip: %q %q %q %v", gid, gport, gtok, err)
	}
	for _, bad := range []string{
		"", "vch-serial", "vch-serial " + id + " log",
		"ssh " + id + " log " + tok,
		"vch-serial " + id + " disk " + tok,
		"vch-serial " + id[:10] + " log " + tok,
		"vch-serial " + id + " log xyz",
	} {
		if _, _, _, err := ParseSerialHello(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
