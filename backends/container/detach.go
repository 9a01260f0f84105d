package container

import (
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

// detachReader passes stdin through until the detach sequence appears;
// then it calls onDetach and reports EOF. Bytes that only began the
// sequence are passed on once it breaks.
type detachReader struct {
	r        io.Reader
	keys     []byte
	onDetach func()

	mu      sync.Mutex
	matched int    // bytes of keys seen so far
	pending []byte // output not yet returned
	done    bool
}

func (d *detachReader) detached() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
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
		if d.done {
			d.mu.Unlock()
			return 0, io.EOF
		}
		d.mu.Unlock()

		buf := make([]byte, len(p))
		n, err := d.r.Read(buf)
		d.mu.Lock()
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
		detached, pending := d.done, len(d.pending)
		d.mu.Unlock()
		if detached && d.onDetach != nil {
			d.onDetach()
		}
		if err != nil && pending == 0 {
			return 0, err
		}
		// Loop: hand out what is pending; a read error comes back next time.
	}
}
