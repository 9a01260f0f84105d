package events

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	eventtypes "github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

func actor(id, name string, attrs ...string) eventtypes.Actor {
	a := eventtypes.Actor{ID: id, Attributes: map[string]string{"name": name}}
	for i := 0; i+1 < len(attrs); i += 2 {
		a.Attributes[attrs[i]] = attrs[i+1]
	}
	return a
}

// legacyFields are the status, id and from keys of m's JSON.
func legacyFields(t *testing.T, m eventtypes.Message) map[string]string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range []string{"status", "id", "from"} {
		if v, ok := all[k].(string); ok {
			out[k] = v
		}
	}
	return out
}

// clock returns a fake clock that advances by one second per reading.
func clock(start time.Time) func() time.Time {
	t := start
	return func() time.Time { t = t.Add(time.Second); return t }
}

func TestLogShape(t *testing.T) {
	s := New(4)
	_, sub := s.Subscribe(time.Time{}, Filter{})
	defer sub.Close()
	s.Log(eventtypes.ContainerEventType, eventtypes.ActionStart, actor("c1", "web", "image", "busybox"))
	m := <-sub.C()
	legacy := legacyFields(t, m)
	if m.Scope != "local" || legacy["status"] != "start" || legacy["id"] != "c1" || legacy["from"] != "busybox" || m.Time == 0 || m.TimeNano/1e9 != m.Time {
		t.Fatalf("container event shape: %+v", m)
	}
	s.Log(eventtypes.VolumeEventType, eventtypes.ActionCreate, actor("v1", "v1"))
	m = <-sub.C()
	if legacy := legacyFields(t, m); len(legacy) != 0 || m.Actor.ID != "v1" {
		t.Fatalf("volume event has legacy fields: %+v", m)
	}
}

func TestSinceReplayAndRing(t *testing.T) {
	s := New(3)
	base := time.Unix(1000, 0)
	s.now = clock(base)
	for _, id := range []string{"a", "b", "c", "d"} {
		s.Log(eventtypes.ContainerEventType, eventtypes.ActionCreate, actor(id, id))
	}
	// kept: b (1002), c (1003), d (1004); a fell out of the ring.
	past, sub := s.Subscribe(base.Add(3*time.Second), Filter{})
	defer sub.Close()
	if len(past) != 2 || past[0].Actor.ID != "c" || past[1].Actor.ID != "d" {
		t.Fatalf("replay since 1003: %+v", past)
	}
	past2, sub2 := s.Subscribe(base, Filter{})
	defer sub2.Close()
	if len(past2) != 3 || past2[0].Actor.ID != "b" {
		t.Fatalf("replay of the whole ring: %+v", past2)
	}
	none, sub3 := s.Subscribe(time.Time{}, Filter{})
	defer sub3.Close()
	if len(none) != 0 {
		t.Fatalf("no since, yet replay: %+v", none)
	}
}

func TestTimesStrictlyIncrease(t *testing.T) {
	s := New(8)
	fixed := time.Unix(5, 0)
	s.now = func() time.Time { return fixed }
	for range 3 {
		s.Log(eventtypes.ImageEventType, eventtypes.ActionPull, actor("x", "x"))
	}
	past, sub := s.Subscribe(time.Unix(1, 0), Filter{})
	sub.Close()
	for i := 1; i < len(past); i++ {
		if past[i].TimeNano <= past[i-1].TimeNano {
			t.Fatalf("times not increasing: %d then %d", past[i-1].TimeNano, past[i].TimeNano)
		}
	}
}

func TestSlowSubscriberIsDroppedNotBlocking(t *testing.T) {
	s := New(4)
	_, slow := s.Subscribe(time.Time{}, Filter{})
	_, fast := s.Subscribe(time.Time{}, Filter{})
	defer fast.Close()
	// The fast reader takes each event before the next is published (it
	// must not fall behind however the goroutines are scheduled).
	got := make(chan struct{})
	done := make(chan struct{})
	go func() {
		for range fast.C() {
			got <- struct{}{}
		}
		close(done)
	}()
	for range subscriberBuffer + 10 {
		s.Log(eventtypes.ContainerEventType, eventtypes.ActionStart, actor("c", "c"))
		<-got
	}
	n := 0
	for range slow.C() {
		n++
	}
	if n != subscriberBuffer || !errors.Is(slow.Err(), ErrSlowSubscriber) {
		t.Fatalf("slow subscriber got %d events, err %v", n, slow.Err())
	}
	fast.Close()
	<-done
	if fast.Err() != nil {
		t.Fatalf("closed subscriber err = %v", fast.Err())
	}
	slow.Close() // closing twice is harmless
}

func TestFilter(t *testing.T) {
	web := eventtypes.Message{Type: eventtypes.ContainerEventType, Action: eventtypes.ActionDie,
		Actor: actor("abcdef123", "web", "image", "busybox:latest", "tier", "front", "exitCode", "0")}
	health := eventtypes.Message{Type: eventtypes.ContainerEventType, Action: eventtypes.ActionHealthStatusHealthy,
		Actor: actor("abcdef123", "web", "image", "busybox:latest")}
	img := eventtypes.Message{Type: eventtypes.ImageEventType, Action: eventtypes.ActionPull,
		Actor: actor("busybox:latest", "busybox:latest")}
	vol := eventtypes.Message{Type: eventtypes.VolumeEventType, Action: eventtypes.ActionCreate,
		Actor: actor("data", "data", "driver", "local")}
	cases := []struct {
		name string
		args []filters.KeyValuePair
		in   []eventtypes.Message
		out  []eventtypes.Message
	}{
		{"none", nil, []eventtypes.Message{web, img, vol}, nil},
		{"type", []filters.KeyValuePair{filters.Arg("type", "container")}, []eventtypes.Message{web}, []eventtypes.Message{img, vol}},
		{"event", []filters.KeyValuePair{filters.Arg("event", "die")}, []eventtypes.Message{web}, []eventtypes.Message{health, img}},
		{"event prefix", []filters.KeyValuePair{filters.Arg("event", "health_status")}, []eventtypes.Message{health}, []eventtypes.Message{web}},
		{"container by name", []filters.KeyValuePair{filters.Arg("container", "web")}, []eventtypes.Message{web, health}, []eventtypes.Message{img, vol}},
		{"container by id prefix", []filters.KeyValuePair{filters.Arg("container", "abcdef")}, []eventtypes.Message{web}, []eventtypes.Message{vol}},
		{"container other", []filters.KeyValuePair{filters.Arg("container", "db")}, nil, []eventtypes.Message{web}},
		{"image untagged", []filters.KeyValuePair{filters.Arg("image", "busybox")}, []eventtypes.Message{web, img}, []eventtypes.Message{vol}},
		{"image tagged", []filters.KeyValuePair{filters.Arg("image", "busybox:latest")}, []eventtypes.Message{web, img}, nil},
		{"label", []filters.KeyValuePair{filters.Arg("label", "tier=front")}, []eventtypes.Message{web}, []eventtypes.Message{health, img}},
		{"label key", []filters.KeyValuePair{filters.Arg("label", "tier")}, []eventtypes.Message{web}, []eventtypes.Message{vol}},
		{"volume", []filters.KeyValuePair{filters.Arg("volume", "data")}, []eventtypes.Message{vol}, []eventtypes.Message{web}},
		{"two keys", []filters.KeyValuePair{filters.Arg("type", "container"), filters.Arg("event", "die")}, []eventtypes.Message{web}, []eventtypes.Message{health, img}},
		{"two values", []filters.KeyValuePair{filters.Arg("event", "die"), filters.Arg("event", "pull")}, []eventtypes.Message{web, img}, []eventtypes.Message{vol}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFilter(filters.NewArgs(tc.args...))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.in {
				if !f.Include(m) {
					t.Errorf("%s %s excluded", m.Type, m.Action)
				}
			}
			for _, m := range tc.out {
				if f.Include(m) {
					t.Errorf("%s %s included", m.Type, m.Action)
				}
			}
		})
	}
	if _, err := NewFilter(filters.NewArgs(filters.Arg("bogus", "x"))); err == nil {
		t.Fatal("unknown filter key accepted")
	}
}

func TestStripTag(t *testing.T) {
	for in, want := range map[string]string{
		"busybox:latest": "busybox", "localhost:5000/busybox:1": "localhost:5000/busybox",
		"localhost:5000/busybox": "localhost:5000/busybox", "sha256:abc": "sha256:abc", "busybox": "busybox",
	} {
		if got := stripTag(in); got != want {
			t.Errorf("stripTag(%q) = %q, want %q", in, got, want)
		}
	}
}
