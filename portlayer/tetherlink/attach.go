package tetherlink

import (
	"context"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/tether/proto"
)

// AttachOutput serves the output side of an attach from a container's
// log at logPath, whose size was eof when the attach came: with
// opts.Logs, the output records before eof first; without opts.Stream
// it ends there, and otherwise follow (the provider's, which knows when
// the followed run ends) delivers the rest from rd through write. With
// tty, stderr records go to opts.Stdout (a tty has one stream).
func AttachOutput(opts compute.AttachOptions, tty bool, logPath string, eof int64, follow func(rd *RecordReader, write func(Record) bool) error) error {
	write := func(rec Record) bool {
		w := opts.Stdout
		if rec.Kind == proto.KindStderr && !tty {
			w = opts.Stderr
		}
		if w != nil {
			if _, err := w.Write(rec.Data); err != nil {
				return false // the client is gone
			}
		}
		return true
	}
	start := eof
	if opts.Logs {
		start = 0
	}
	rd := NewRecordReader(logPath, start)
	defer rd.Close()
	if !opts.Stream {
		if !opts.Logs {
			return nil
		}
		recs, err := rd.Poll()
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if rec.Off < eof && rec.Kind != proto.KindEvent && !write(rec) {
				return nil
			}
		}
		return nil
	}
	return follow(rd, write)
}

// Follow delivers the output records rd reads to emit, polling every
// interval, until the followed run ends: at its exit event (at or after
// boundary, the run's start in the log), or once over (asked before each
// poll) reports it ended and what the log held then is delivered. It
// also ends when emit returns false (nil) or when ctx does (ctx's error).
func Follow(ctx context.Context, rd *RecordReader, boundary int64, interval time.Duration, over func() bool, emit func(Record) bool) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ended := over()
		recs, err := rd.Poll()
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if rec.Kind == proto.KindEvent {
				if rec.Off >= boundary && IsExit(rec) {
					return nil
				}
				continue
			}
			if !emit(rec) {
				return nil
			}
		}
		if ended {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
