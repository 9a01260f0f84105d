package qemu

import (
	"context"
	"io"
	"path/filepath"
	"time"

	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
)

// followPoll is how often a log follower looks for new records.
const followPoll = 20 * time.Millisecond

// streamEnd says when a followed stream ends: at an EventExited record at
// or after boundary (the run being followed), or once a run that was not
// over at exitsAt has ended and the log is drained.
type streamEnd struct {
	boundary int64
	exitsAt  int
}

// follow delivers output records of rd until the stream ends or emit
// returns false. It returns ctx's error if ctx ended it.
func (p *Provider) follow(ctx context.Context, v *vm, rd *tetherlink.RecordReader, end streamEnd, emit func(tetherlink.Record) bool) error {
	over := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return v.exits > end.exitsAt || v.removed
	}
	return tetherlink.Follow(ctx, rd, end.boundary, followPoll, over, emit)
}

// Logs returns the kept output. With Follow on a VM that is running (or
// booting) the channel stays open until the process exits.
func (p *Provider) Logs(ctx context.Context, id string, opts compute.LogOptions) (<-chan compute.LogEntry, error) {
	p.mu.Lock()
	v, err := p.lookup(id)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	live := v.run != nil
	end := streamEnd{exitsAt: v.exits}
	if live {
		end.boundary = v.run.logStart
	}
	p.mu.Unlock()

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
		rd := tetherlink.NewRecordReader(filepath.Join(v.dir, fileLog), 0)
		defer rd.Close()
		recs, err := rd.Poll()
		if err != nil {
			p.log.Warn("read logs: " + err.Error())
			return
		}
		kept, ended := tetherlink.Backlog(recs, opts, end.boundary)
		for _, rec := range kept {
			if !send(rec) {
				return
			}
		}
		if !opts.Follow || !live || ended {
			return
		}
		_ = p.follow(ctx, v, rd, end, func(rec tetherlink.Record) bool {
			if !opts.Until.IsZero() && rec.Time.After(opts.Until) {
				return false
			}
			if !tetherlink.InWindow(rec, opts) {
				return true
			}
			return send(rec)
		})
	}()
	return out, nil
}

// Attach connects the caller's streams to the main process. It may come
// before Start (as docker run does): output then comes from the next run
// and stdin is connected once the VM runs.
func (p *Provider) Attach(ctx context.Context, id string, opts compute.AttachOptions) error {
	p.mu.Lock()
	v, err := p.lookup(id)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	end := streamEnd{exitsAt: v.exits}
	tty := v.spec.Process.Tty
	live := v.run
	p.mu.Unlock()

	logPath := filepath.Join(v.dir, fileLog)
	eof, err := tetherlink.FileSize(logPath)
	if err != nil {
		return err
	}
	end.boundary = eof
	if live != nil {
		end.boundary = live.logStart
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.Stdin != nil {
		go p.feedStdin(ctx, v, opts.Stdin, end.exitsAt)
	}

	return tetherlink.AttachOutput(opts, tty, logPath, eof, func(rd *tetherlink.RecordReader, write func(tetherlink.Record) bool) error {
		return p.follow(ctx, v, rd, end, write)
	})
}

// feedStdin copies stdin into the process's stdin once the VM of the run
// after exitsAt (or the current one) is running; EOF closes the process's
// stdin.
func (p *Provider) feedStdin(ctx context.Context, v *vm, stdin io.Reader, exitsAt int) {
	var r *runState
	p.mu.Lock()
	stdinOnce := v.spec.Process.StdinOnce
	p.mu.Unlock()
	for r == nil {
		p.mu.Lock()
		if v.removed || v.exits > exitsAt {
			p.mu.Unlock()
			return
		}
		if v.run != nil && v.rec.State == compute.StateRunning {
			r = v.run
		}
		ch := v.notify
		p.mu.Unlock()
		if r != nil {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
	client, err := r.ctl.get(ctx, r)
	if err != nil {
		if ctx.Err() == nil { // not a detach or the end of the attach
			p.log.Warn("attach stdin: " + err.Error())
		}
		return
	}
	if err := tetherlink.FeedStdin(ctx, client, stdin, stdinOnce); err != nil && ctx.Err() == nil {
		p.log.Warn(err.Error())
	}
}
