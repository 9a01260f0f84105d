package vice

import (
	"maps"
	"testing"
)

// The simulator's guestinfo environment maps back to the same keys.
func TestEnvRoundTrip(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{Name: "vch1", Target: "10.0.0.1:443", Ops: Ops{User: "ops", Password: "p4ss word"},
		Network: Network{Bridge: PortGroup{Name: "VM Network"}, Containers: []ContainerNetwork{{PortGroup: PortGroup{Name: "pg"}, Alias: "public"}}}}
	kv, err := Encode(c, key)
	if err != nil {
		t.Fatal(err)
	}
	env := ToEnv(kv)
	back := FromEnv(append(env, "PATH=/bin", "VMX_GUESTINFO=true"))
	if !maps.Equal(back, kv) {
		t.Fatalf("round trip:\n%v\n%v", back, kv)
	}
	got, err := Decode(back)
	if err != nil || got.Ops.Password != "p4ss word" || got.Network.Containers[0].Alias != "public" || got.Network.Bridge.Name != "VM Network" {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}
