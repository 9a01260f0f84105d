package system

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/daemon/httputils"
	"github.com/vchproject/vch/errdefs"
)

// events streams GET /events as docker does: the kept events since
// `since`, then live ones until `until` or the client leaves. An `until`
// in the past only replays.
func (r *router) events(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	since, err := parseTimestamp(req.Form.Get("since"))
	if err != nil {
		return err
	}
	until, err := parseTimestamp(req.Form.Get("until"))
	if err != nil {
		return err
	}
	f, err := filters.FromJSON(req.Form.Get("filters"))
	if err != nil {
		return errdefs.InvalidParameter(err.Error())
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return errdefs.InvalidParameter("`since` time cannot be after `until` time")
	}
	replay := since
	if replay.IsZero() && !until.IsZero() {
		replay = time.Unix(0, 1) // as dockerd: until alone replays everything kept
	}
	past, live, cancel, err := r.b.SubscribeToEvents(replay, f)
	if err != nil {
		return err
	}
	defer cancel()

	fw := httputils.NewFlushWriter(w, func() {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	})
	fw.Start()
	enc := json.NewEncoder(fw)
	untilNano := int64(0)
	if !until.IsZero() {
		untilNano = until.UnixNano()
	}
	for _, m := range past {
		if untilNano != 0 && m.TimeNano > untilNano {
			return nil
		}
		if err := enc.Encode(m); err != nil {
			return nil // the client went away
		}
	}
	var deadline <-chan time.Time
	if untilNano != 0 {
		d := time.Until(until)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case m, ok := <-live:
			if !ok {
				return nil
			}
			if untilNano != 0 && m.TimeNano > untilNano {
				return nil
			}
			if err := enc.Encode(m); err != nil {
				return nil
			}
		case <-deadline:
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}

// parseTimestamp reads docker's "seconds[.nanoseconds]" (the CLI turns
// durations and dates into it); RFC 3339 is accepted too. "": zero.
func parseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	sec, frac, _ := strings.Cut(s, ".")
	secs, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, errdefs.InvalidParameter(fmt.Sprintf("invalid timestamp %q", s))
	}
	var nanos int64
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return time.Time{}, errdefs.InvalidParameter(fmt.Sprintf("invalid timestamp %q", s))
		}
		nanos = n * pow10(9-len(frac))
	}
	return time.Unix(secs, nanos), nil
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}
