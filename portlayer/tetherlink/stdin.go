package tetherlink

import (
	"context"
	"fmt"
	"io"

	"golang.org/x/crypto/ssh"

	"github.com/vchproject/vch/tether/proto"
)

// FeedStdin copies stdin into the main process's stdin over a
// proto.ChanStdin channel of client until stdin ends or ctx does (a
// detach). At stdin's end the tether is told to close the process's
// stdin; after a detach only if stdinOnce (docker's semantics: a
// detached process keeps its stdin unless the container asked for stdin
// once). It returns when the copy is over.
func FeedStdin(ctx context.Context, client *ssh.Client, stdin io.Reader, stdinOnce bool) error {
	ch, reqs, err := client.OpenChannel(proto.ChanStdin, nil)
	if err != nil {
		return fmt.Errorf("attach stdin: %w", err)
	}
	go ssh.DiscardRequests(reqs)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(detachable{ctx, ch}, stdin)
	}()
	closeStdin := func() {
		// The tether closes the process's stdin only on an EOF it was
		// told about first (a bare EOF is a lost connection).
		_, _ = ch.SendRequest(proto.ReqStdinEOF, true, nil)
		_ = ch.CloseWrite()
	}
	select {
	case <-copied:
		if ctx.Err() == nil || stdinOnce {
			closeStdin()
		}
	case <-ctx.Done():
		if stdinOnce {
			closeStdin()
		}
	}
	return nil
}

// detachable writes to w until ctx ends, then refuses.
type detachable struct {
	ctx context.Context
	w   io.Writer
}

func (d detachable) Write(b []byte) (int, error) {
	if err := d.ctx.Err(); err != nil {
		return 0, err
	}
	return d.w.Write(b)
}
