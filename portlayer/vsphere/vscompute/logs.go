package vscompute

import (
	"context"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
)

// followPoll is how often a log follower looks for new records; the
// container's state is read every followStatePolls polls.
const (
	followPoll       = 50 * time.Millisecond
	followStatePolls = 20
)

// Logs returns the output the serial concentrator kept. With Follow on
// a running container the channel stays open until the process exits.
func (p *Provider) Logs(ctx context.Context, id string, opts compute.LogOptions) (<-chan compute.LogEntry, error) {
	if p.hub == nil {
		return nil, p.noTether(ctx, id, "logs")
	}
	c, err := p.find(ctx, id)
	if err != nil {
		return nil, err
	}
	live := c.status().State == compute.StateRunning
	boundary := c.rec.LogStart
	out := make(chan compute.LogEntry, 64)
	go func() {
		defer close(out)
		send := func(rec tetherlink.Record) bool {
			select {
			case out <- compute.LogEntry{Stream: tetherlink.StreamName(rec.Kind), Time: rec.Time, Data: rec.Data}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		rd := tetherlink.NewRecordReader(p.hub.logPath(id), 0)
		defer rd.Close()
		recs, err := rd.Poll()
		if err != nil {
			p.log.Warn("read logs: " + err.Error())
			return
		}
		kept, ended := tetherlink.Backlog(recs, opts, boundary)
		for _, rec := range kept {
			if !send(rec) {
				return
			}
		}
		if !opts.Follow || !live || ended {
			return
		}
		n := 0
		over := func() bool {
			if n++; n%followStatePolls != 0 {
				return false
			}
			now, err := p.find(ctx, id)
			return err != nil || now.status().State != compute.StateRunning
		}
		_ = tetherlink.Follow(ctx, rd, boundary, followPoll, over, func(rec tetherlink.Record) bool {
			if !opts.Until.IsZero() && rec.Time.After(opts.Until) {
				return false
			}
			return !tetherlink.InWindow(rec, opts) || send(rec)
		})
	}()
	return out, nil
}
