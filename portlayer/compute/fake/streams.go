package fake

import (
	"context"
	"sync"

	"github.com/vchproject/vch/portlayer/compute"
)

// Attach implements compute.Streamer.
func (p *Provider) Attach(ctx context.Context, id string, opts compute.AttachOptions) error {
	p.mu.Lock()
	v, err := p.get(id)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	tty := v.c.Spec.Process.Tty
	deliver := func(e compute.LogEntry) {
		w := opts.Stdout
		if e.Stream == "stderr" && !tty {
			w = opts.Stderr
		}
		if w != nil {
			_, _ = w.Write(e.Data)
		}
	}
	s := newSub(deliver, opts.Stdin)
	if r := v.run; r != nil {
		p.mu.Unlock()
		r.outMu.Lock()
		if !r.ended {
			if opts.Logs {
				p.replay(v, deliver)
			}
			if !opts.Stream {
				r.outMu.Unlock()
				return nil
			}
			p.mu.Lock()
			r.bind(s)
			p.mu.Unlock()
			r.subs = append(r.subs, s)
			r.outMu.Unlock()
			return p.waitSub(ctx, v, s)
		}
		r.outMu.Unlock()
		p.mu.Lock() // the run ended meanwhile: treat as not running
	}
	if opts.Logs {
		for _, e := range v.logs {
			deliver(e)
		}
	}
	if !opts.Stream {
		p.mu.Unlock()
		return nil
	}
	v.pending = append(v.pending, s)
	p.mu.Unlock()
	return p.waitSub(ctx, v, s)
}

// replay delivers the kept output; called with the run's outMu held.
func (p *Provider) replay(v *vm, deliver func(compute.LogEntry)) {
	p.mu.Lock()
	logs := append([]compute.LogEntry(nil), v.logs...)
	p.mu.Unlock()
	for _, e := range logs {
		deliver(e)
	}
}

// waitSub blocks until s's run ends or ctx is done (then unsubscribes).
func (p *Provider) waitSub(ctx context.Context, v *vm, s *sub) error {
	select {
	case <-s.ended:
		return nil
	case <-ctx.Done():
	}
	p.unsubscribe(v, s)
	return ctx.Err()
}

// unsubscribe removes s from v's pending list or its run.
func (p *Provider) unsubscribe(v *vm, s *sub) {
	p.mu.Lock()
	for i, x := range v.pending {
		if x == s {
			v.pending = append(v.pending[:i], v.pending[i+1:]...)
			break
		}
	}
	r := s.run
	p.mu.Unlock()
	if r != nil {
		r.outMu.Lock()
		for i, x := range r.subs {
			if x == s {
				r.subs = append(r.subs[:i], r.subs[i+1:]...)
				break
			}
		}
		r.outMu.Unlock()
	}
}

// Logs implements compute.Streamer.
func (p *Provider) Logs(ctx context.Context, id string, opts compute.LogOptions) (<-chan compute.LogEntry, error) {
	p.mu.Lock()
	v, err := p.get(id)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	r := v.run
	p.mu.Unlock()

	var (
		kept   []compute.LogEntry
		follow *sub
		q      = &queue{wake: make(chan struct{}, 1)}
	)
	if r != nil && opts.Follow {
		r.outMu.Lock()
		if !r.ended {
			follow = newSub(q.push, nil)
			r.subs = append(r.subs, follow)
		}
		p.mu.Lock()
		if follow != nil {
			follow.run = r
		}
		kept = append(kept, v.logs...)
		p.mu.Unlock()
		r.outMu.Unlock()
	} else {
		p.mu.Lock()
		kept = append(kept, v.logs...)
		p.mu.Unlock()
	}
	kept = selectEntries(kept, opts)

	out := make(chan compute.LogEntry)
	go func() {
		defer close(out)
		if follow != nil {
			defer p.unsubscribe(v, follow)
		}
		send := func(e compute.LogEntry) bool {
			if !opts.Until.IsZero() && e.Time.After(opts.Until) {
				return true
			}
			select {
			case out <- e:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for _, e := range kept {
			if !send(e) {
				return
			}
		}
		if follow == nil {
			return
		}
		for {
			for _, e := range q.drain() {
				if !send(e) {
					return
				}
			}
			select {
			case <-q.wake:
			case <-follow.ended:
				for _, e := range q.drain() {
					if !send(e) {
						return
					}
				}
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// selectEntries applies Since, Until and Tail to kept output.
func selectEntries(all []compute.LogEntry, opts compute.LogOptions) []compute.LogEntry {
	var out []compute.LogEntry
	for _, e := range all {
		if !opts.Since.IsZero() && e.Time.Before(opts.Since) {
			continue
		}
		if !opts.Until.IsZero() && e.Time.After(opts.Until) {
			continue
		}
		out = append(out, e)
	}
	if opts.Tail >= 0 && opts.Tail < len(out) {
		out = out[len(out)-opts.Tail:]
	}
	return out
}

// queue buffers a follower's entries without blocking the writer.
type queue struct {
	mu      sync.Mutex
	entries []compute.LogEntry
	wake    chan struct{}
}

func (q *queue) push(e compute.LogEntry) {
	q.mu.Lock()
	q.entries = append(q.entries, e)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) drain() []compute.LogEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.entries
	q.entries = nil
	return e
}
