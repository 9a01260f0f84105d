package vice

import (
	"errors"
	"maps"
	"reflect"
	"testing"
)

// A source that answers single keys (the backdoor) gives Decode the same
// keys Encode wrote, lists through their counts; other keys are never
// asked for.
func TestReadRoundTrip(t *testing.T) {
	key, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	c := sample()
	kv, err := Encode(c, key)
	if err != nil {
		t.Fatal(err)
	}
	source := maps.Clone(kv)
	source["guestinfo.other"] = "not ours"
	asked := map[string]bool{}
	got, err := Read(func(k string) (string, bool, error) {
		asked[k] = true
		v, ok := source[k]
		return v, ok, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, kv) {
		t.Fatalf("read\n%v\nwant\n%v", Keys(got), Keys(kv))
	}
	if asked["guestinfo.other"] || !asked["guestinfo.vice.network.container.0.dns.1"] || asked["guestinfo.vice.network.container.0.dns.2"] {
		t.Errorf("asked for %v", asked)
	}
	back, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("decoded\n%+v\nwant\n%+v", back, c)
	}
}

// A source's error ends the read, naming the key; a bad count is an error.
func TestReadErrors(t *testing.T) {
	boom := errors.New("backdoor closed")
	_, err := Read(func(k string) (string, bool, error) {
		if k == "guestinfo.vice.ops.user" {
			return "", false, boom
		}
		return "", false, nil
	})
	if !errors.Is(err, boom) || !reflect.DeepEqual(err.Error(), "vice: read guestinfo.vice.ops.user: backdoor closed") {
		t.Errorf("source error: %v", err)
	}
	_, err = Read(func(k string) (string, bool, error) {
		if k == "guestinfo.vice.storage.volume.count" {
			return "-1", true, nil
		}
		return "", false, nil
	})
	if err == nil {
		t.Error("a negative count was read")
	}
}
