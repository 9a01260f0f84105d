package container

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// defaultDetachKeys is docker's ctrl-p,ctrl-q.
var defaultDetachKeys = []byte{16, 17}

// parseDetachKeys reads docker's detach-keys syntax: comma-separated
// single characters or "ctrl-<x>" (x in a-z, @, [, \, ], ^, _).
func parseDetachKeys(s string) ([]byte, error) {
	var keys []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			keys = append(keys, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				keys = append(keys, c-'a'+1)
			case c == '@':
				keys = append(keys, 0)
			case c >= '[' && c <= '_':
				keys = append(keys, c-'['+27)
			default:
				return nil, fmt.Errorf("unknown character %q", c)
			}
		default:
			return nil, fmt.Errorf("unknown key %q", k)
		}
	}
	return keys, nil
}

// errSessionEnded is what the port layer reads from stdin once the client
// detached or its stdin ended without closing the process's: not EOF, so
// the process's stdin stays open (docker keeps it for the next attach).
var errSessionEnded = errors.New("attach session ended")

// detachReader passes the client's stdin through until the detach sequence
// appears or the client's stdin ends. EOF is passed on (closing the
// process's stdin) only when closeOnEOF (docker: StdinOnce without TTY).
// Otherwise the session ends: end is called, and reads block until
// released is closed, then fail with errSessionEnded. Bytes that only began
// the detach sequence are passed on once it breaks.
type detachReader struct {
	r          io.Reader
	keys       []byte
	closeOnEOF bool
	end        func()
	released   <-chan struct{}

	mu      sync.Mutex
	matched int    // bytes of keys seen so far
	pending []byte // output not yet returned
	done    bool   // detach sequence seen
	ended   bool   // session over (detached, or EOF kept from the process)
	readErr error
}

func (d *detachReader) detached() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

// finish ends the session and blocks until the attach is over.
func (d *detachReader) finish() (int, error) {
	d.mu.Lock()
	first := !d.ended
	d.ended = true
	d.mu.Unlock()
	if first && d.end != nil {
		d.end()
	}
	<-d.released
	return 0, errSessionEnded
}

func (d *detachReader) Read(p []byte) (int, error) {
	for {
		d.mu.Lock()
		if len(d.pending) > 0 {
			n := copy(p, d.pending)
			d.pending = d.pending[n:]
			d.mu.Unlock()
			return n, nil
		}
		done, rerr := d.done, d.readErr
		d.mu.Unlock()
		if done {
			return d.finish()
		}
		if rerr != nil {
			if rerr == io.EOF && !d.closeOnEOF {
				// Docker keeps the container's stdin open (StdinOnce is
				// false) and the output streaming until the process
				// ends: hold the stdin channel open until the attach is over.
				<-d.released
				return 0, errSessionEnded
			}
			return 0, rerr
		}

		buf := make([]byte, len(p))
		n, err := d.r.Read(buf)
		d.mu.Lock()
		d.readErr = err
		for _, c := range buf[:n] {
			if d.done {
				break
			}
			if c == d.keys[d.matched] {
				d.matched++
				if d.matched == len(d.keys) {
					d.done = true
				}
				continue
			}
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched = 0
			if c == d.keys[0] {
				d.matched = 1
				if len(d.keys) == 1 {
					d.done = true
				}
				continue
			}
			d.pending = append(d.pending, c)
		}
		d.mu.Unlock()
	}
}

// sessionEnded reports whether the client ended the session from stdin.
func (d *detachReader) sessionEnded() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ended
}
