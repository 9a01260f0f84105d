package tether

import (
	"encoding/base64"
	"errors"
	"reflect"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/vchproject/vch/tether/guestinfo"
	"github.com/vchproject/vch/tether/proto"
)

// TestVSphereNetworkFromGuestinfo: on a run boot the tether reads the
// NICs from guestinfo and hands them, parsed, to the NIC setup (the
// QEMU path's setupNetwork on a VM that owns its NICs); with no setup (a
// docker-backed VM) it only records them; no key is no NICs; a bad value
// fails the boot and nothing is applied.
func TestVSphereNetworkFromGuestinfo(t *testing.T) {
	nics := base64.RawURLEncoding.EncodeToString([]byte(`[{"Network":"bridge","MAC":"02:42:ac:10:00:02","Address":"172.16.0.2/16","Gateway":"172.16.0.1","MTU":1500}]`))
	src := func(kv map[string]string) guestinfo.Source {
		return guestinfo.Env{LookupEnv: func(k string) (string, bool) {
			for key, v := range kv {
				if guestinfo.EnvName(key) == k {
					return v, true
				}
			}
			return "", false
		}}
	}
	want := []proto.Interface{{MAC: "02:42:ac:10:00:02", Address: "172.16.0.2/16", Gateway: "172.16.0.1", MTU: 1500}}
	newTether := func() *tether { return &tether{log: zaptest.NewLogger(t), cfg: &proto.Config{}} }

	var applied [][]proto.Interface
	record := func(ifs []proto.Interface, _ *zap.Logger) error {
		applied = append(applied, ifs)
		return nil
	}
	tt := newTether()
	if err := tt.vsphereNetwork(src(map[string]string{proto.GuestinfoNICs: nics}), record); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || !reflect.DeepEqual(applied[0], want) || !reflect.DeepEqual(tt.cfg.Interfaces, want) {
		t.Fatalf("applied %+v, config %+v; want %+v", applied, tt.cfg.Interfaces, want)
	}

	tt = newTether()
	if err := tt.vsphereNetwork(src(map[string]string{proto.GuestinfoNICs: nics}), nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tt.cfg.Interfaces, want) {
		t.Fatalf("without a setup: config %+v, want %+v", tt.cfg.Interfaces, want)
	}

	applied = nil
	tt = newTether()
	if err := tt.vsphereNetwork(src(nil), record); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 || len(applied[0]) != 0 {
		t.Fatalf("no key: applied %+v, want one call with no NICs (lo only)", applied)
	}

	applied = nil
	bad := base64.RawURLEncoding.EncodeToString([]byte(`[{"MAC":"02:42:ac:10:00:02","Address":"172.16.0.2"}]`))
	if err := newTether().vsphereNetwork(src(map[string]string{proto.GuestinfoNICs: bad}), record); err == nil || len(applied) != 0 {
		t.Fatalf("bad NICs: %v, applied %+v", err, applied)
	}

	// The networks' name servers become the container's (resolv.conf),
	// once each, replacing its own; without any, its own stay.
	two := base64.RawURLEncoding.EncodeToString([]byte(`[{"MAC":"02:42:ac:11:00:02","Address":"172.17.0.2/16","Gateway":"172.17.0.1","DNS":["172.17.0.1"]},` +
		`{"MAC":"02:42:ac:12:00:02","Address":"172.18.0.2/16","DNS":["172.18.0.1","172.17.0.1"]}]`))
	tt = newTether()
	tt.cfg.DNS = []string{"10.0.0.53"}
	if err := tt.vsphereNetwork(src(map[string]string{proto.GuestinfoNICs: two}), nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tt.cfg.DNS, []string{"172.17.0.1", "172.18.0.1"}) {
		t.Fatalf("name servers %v, want the networks'", tt.cfg.DNS)
	}
	tt = newTether()
	tt.cfg.DNS = []string{"10.0.0.53"}
	if err := tt.vsphereNetwork(src(map[string]string{proto.GuestinfoNICs: nics}), nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tt.cfg.DNS, []string{"10.0.0.53"}) {
		t.Fatalf("name servers %v, want the container's own", tt.cfg.DNS)
	}

	boom := errors.New("no link")
	if err := newTether().vsphereNetwork(src(map[string]string{proto.GuestinfoNICs: nics}), func([]proto.Interface, *zap.Logger) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed setup: %v", err)
	}
}
