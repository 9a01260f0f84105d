package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/errdefs"
)

// fakeEvents: two kept events at t=100 s and t=200 s; live events none
// (the channel closes at once).
func (fakeSystem) SubscribeToEvents(since time.Time, f filters.Args) ([]events.Message, <-chan events.Message, func(), error) {
	if err := f.Validate(map[string]bool{"type": true}); err != nil {
		return nil, nil, nil, errdefs.InvalidParameter(err.Error())
	}
	var past []events.Message
	for _, s := range []int64{100, 200} {
		if !since.IsZero() && s*1e9 >= since.UnixNano() {
			past = append(past, events.Message{Type: events.ContainerEventType, Action: events.ActionStart, Time: s, TimeNano: s * 1e9})
		}
	}
	live := make(chan events.Message)
	close(live)
	return past, live, func() {}, nil
}

func TestEventsRoute(t *testing.T) {
	h := newServer(t, nil, nil).Handler()
	cases := []struct {
		query string
		want  []int64 // event times
	}{
		{"since=150&until=300", []int64{200}},
		{"since=50&until=150.5", []int64{100}},
		{"since=1970-01-01T00:00:50Z&until=300", []int64{100, 200}},
		{"until=300", []int64{100, 200}}, // docker: until alone replays all kept events
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			w := do(t, h, http.MethodGet, "/v1.45/events?"+tc.query, "")
			if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
			}
			var got []int64
			sc := bufio.NewScanner(strings.NewReader(w.Body.String()))
			for sc.Scan() {
				var m events.Message
				if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
					t.Fatalf("line %q: %v", sc.Text(), err)
				}
				got = append(got, m.Time)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Fatalf("times %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"since=yesterday", "since=300&until=100", `filters={"bogus":{"x":true}}`} {
		if w := do(t, h, http.MethodGet, "/v1.45/events?"+bad, ""); w.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", bad, w.Code)
		}
	}
}

func (fakeSystem) SystemDiskUsage(context.Context) (*types.DiskUsage, error) {
	return &types.DiskUsage{LayersSize: 42}, nil
}

func TestSystemDFRoute(t *testing.T) {
	w := do(t, newServer(t, nil, nil).Handler(), http.MethodGet, "/v1.45/system/df", "")
	var du types.DiskUsage
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &du) != nil || du.LayersSize != 42 {
		t.Fatalf("system df: %d %s", w.Code, w.Body)
	}
}
