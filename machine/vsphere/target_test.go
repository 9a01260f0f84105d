package vsphere

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Target
	}{
		{"lab-vcsa67-001/Datacenter-South", Target{Host: "lab-vcsa67-001", Datacenter: "Datacenter-South"}},
		{"administrator@jarvis.local@lab-vcsa67-001/Datacenter-South", Target{Host: "lab-vcsa67-001", User: "administrator@jarvis.local", Datacenter: "Datacenter-South"}},
		{"https://root:p%40ss@10.0.0.5:8443/DC/", Target{Host: "10.0.0.5:8443", User: "root", Password: "p@ss", Datacenter: "DC"}},
		{"vc.example.com", Target{Host: "vc.example.com"}},
		{"https://u@vc/sdk", Target{Host: "vc", User: "u"}},
	} {
		got, err := ParseTarget(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "http://vc/DC", "user@/DC"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
}

// The seed's error, naming the thumbprint to use, when the thumbprint is
// missing or wrong; a wrong password is ErrLogin; an unknown datacenter
// names the ones there are.
func TestConnectRefusals(t *testing.T) {
	sm := newSim(t)
	tg := Target{Host: sm.host, User: simUser, Password: simPass}
	_, err := sm.dial(tg, "")
	var te *ThumbprintError
	if !errors.As(err, &te) || te.Thumbprint != sm.thumbprint {
		t.Fatalf("no thumbprint: %v", err)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "Failed to verify certificate for target=127.0.0.1 (thumbprint="+sm.thumbprint+")") ||
		!strings.Contains(msg, "--thumbprint "+sm.thumbprint) || strings.Contains(msg, "\n") {
		t.Errorf("missing thumbprint message: %q", msg)
	}
	wrong := strings.Repeat("AB:", 19) + "AB"
	_, err = sm.dial(tg, wrong)
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "does not match --thumbprint "+wrong) || !strings.Contains(err.Error(), "run again with --thumbprint "+sm.thumbprint) {
		t.Errorf("wrong thumbprint: %v", err)
	}
	bad := tg
	bad.Password = "nope"
	if _, err = sm.dial(bad, sm.thumbprint); !errors.Is(err, ErrLogin) {
		t.Errorf("wrong password: %v", err)
	}
	dc := tg
	dc.Datacenter = "Datacenter-South"
	if _, err = sm.dial(dc, sm.thumbprint); err == nil || !strings.Contains(err.Error(), `unknown datacenter "Datacenter-South": the target has DC0`) {
		t.Errorf("unknown datacenter: %v", err)
	}
	dc.Datacenter = "DC0"
	s, err := sm.dial(dc, strings.ToLower(sm.thumbprint))
	if err != nil {
		t.Fatalf("good target, lower-case thumbprint: %v", err)
	}
	defer s.Close()
	if s.Datacenter.InventoryPath != "/DC0" || !s.IsVC {
		t.Errorf("datacenter %q, vCenter %v", s.Datacenter.InventoryPath, s.IsVC)
	}
}
