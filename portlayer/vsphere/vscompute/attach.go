package vscompute

import (
	"context"
	"io"
	"time"

	"github.com/vchproject/vch/errdefs"
	"github.com/vchproject/vch/portlayer/compute"
	"github.com/vchproject/vch/portlayer/tetherlink"
)

// Attach connects the caller's streams to the main process, as under
// QEMU: output is read from the log the serial concentrator keeps, stdin
// goes to the tether over the control connection (tetherlink.FeedStdin).
// It may come before Start (as docker run does): output then comes from
// the next run and stdin is connected once that run's process started.
// With Stream it returns when the run ends, or when ctx does (a detach).
func (p *Provider) Attach(ctx context.Context, id string, opts compute.AttachOptions) error {
	if p.hub == nil {
		return p.noTether(ctx, id, "attach")
	}
	c, err := p.find(ctx, id)
	if err != nil {
		return err
	}
	logPath := p.hub.logPath(id)
	eof, err := tetherlink.FileSize(logPath)
	if err != nil {
		return err
	}
	// The run followed: the current one (recorded as running: a start in
	// flight records the run before the VM is on), or else the next one,
	// whose output starts at or after eof. A run lost while no vchd ran
	// is over.
	st := c.status()
	live := st.State == compute.StateRunning || (c.rec.Running && !c.rec.Exited && (st.Error != errLost || p.inFlight(id)))
	boundary := eof
	if live {
		boundary = c.rec.LogStart
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.Stdin != nil {
		go p.feedStdin(ctx, c, opts.Stdin, live)
	}
	return tetherlink.AttachOutput(opts, c.spec.Process.Tty, logPath, eof, func(rd *tetherlink.RecordReader, write func(tetherlink.Record) bool) error {
		return p.follow(ctx, c, live, rd, boundary, write)
	})
}

// follow delivers output records of rd until the followed run ends (its
// EventExited at or after boundary, or its end seen in the VM's state
// with the log drained), ctx ends or emit returns false.
func (p *Provider) follow(ctx context.Context, c *vm, live bool, rd *tetherlink.RecordReader, boundary int64, emit func(tetherlink.Record) bool) error {
	startedAt := c.rec.StartedAt
	n := 0
	over := func() bool {
		// The VM's state is a vSphere read: every followStatePolls polls.
		if n++; n%followStatePolls != 0 {
			return false
		}
		now, err := p.find(ctx, c.spec.ID)
		switch {
		case errdefs.IsNotFound(err):
			return true
		case err == nil:
			return runEnded(now, startedAt, live)
		}
		return false
	}
	return tetherlink.Follow(ctx, rd, boundary, followPoll, over, emit)
}

// feedStdin waits until the run attached to has its process (the live
// one, or the next one), then copies stdin to it; it gives up when that
// run ended first, or the container is gone.
func (p *Provider) feedStdin(ctx context.Context, c *vm, stdin io.Reader, live bool) {
	id := c.spec.ID
	startedAt := c.rec.StartedAt
	for {
		now, err := p.find(ctx, id)
		if err != nil {
			return
		}
		if runEnded(now, startedAt, live) {
			return // the run ended before its process could be fed
		}
		if now.status().State == compute.StateRunning && now.rec.GuestPid != 0 && (live || now.rec.StartedAt.After(startedAt)) {
			c = now
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(statePoll):
		}
	}
	cl, err := p.dialTether(ctx, c)
	if err != nil {
		if ctx.Err() == nil { // not a detach or the end of the attach
			p.log.Warn("attach stdin: " + err.Error())
		}
		return
	}
	if err := tetherlink.FeedStdin(ctx, cl, stdin, c.spec.Process.StdinOnce); err != nil && ctx.Err() == nil {
		p.log.Warn(err.Error())
	}
}

// runEnded tells whether the run an attach follows has ended, by the
// record (a start records the run before the VM is on, so the power
// state alone cannot tell): the live run (started at startedAt), or the
// first run started after it.
func runEnded(now *vm, startedAt time.Time, live bool) bool {
	over := now.rec.Exited && !now.rec.Running
	if live {
		return over || !now.rec.StartedAt.Equal(startedAt)
	}
	return over && now.rec.StartedAt.After(startedAt)
}

// inFlight tells whether a power operation on id is under way.
func (p *Provider) inFlight(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.busy[id]
}
