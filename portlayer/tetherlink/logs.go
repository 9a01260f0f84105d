package tetherlink

import (
	"encoding/json"
	"errors"
	"os"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// IsExit reports whether rec is the tether's EventExited record.
func IsExit(rec Record) bool {
	if rec.Kind != proto.KindEvent {
		return false
	}
	var ev proto.Event
	return json.Unmarshal(rec.Data, &ev) == nil && ev.Name == proto.EventExited
}

// InWindow reports whether an output record falls within opts' Since and
// Until.
func InWindow(rec Record, opts compute.LogOptions) bool {
	return (opts.Since.IsZero() || !rec.Time.Before(opts.Since)) &&
		(opts.Until.IsZero() || !rec.Time.After(opts.Until))
}

// Backlog picks from the records already in a log what a logs request
// returns before following: output records within opts' window, cut to
// the last opts.Tail lines when Tail >= 0 (docker's json-file log keeps
// one entry per line; a record may hold several). ended reports an exit
// event at or after boundary, the start of the run being followed.
func Backlog(recs []Record, opts compute.LogOptions, boundary int64) (kept []Record, ended bool) {
	for _, rec := range recs {
		if rec.Kind == proto.KindEvent {
			if rec.Off >= boundary && IsExit(rec) {
				ended = true
			}
			continue
		}
		if InWindow(rec, opts) {
			kept = append(kept, rec)
		}
	}
	if opts.Tail >= 0 {
		kept = SplitLines(kept)
		if len(kept) > opts.Tail {
			kept = kept[len(kept)-opts.Tail:]
		}
	}
	return kept, ended
}

// FileSize is the size of path, 0 if it does not exist yet: a log's end
// offset.
func FileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// StreamName is docker's name of the stream an output record belongs to.
func StreamName(kind byte) string {
	if kind == proto.KindStderr {
		return "stderr"
	}
	return "stdout"
}
