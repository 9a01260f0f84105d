// Package httputils holds what every route handler shares: the handler
// signature, the API version in the context, JSON helpers, form parsing,
// the flushing writer for streams and the hijack helper for attach/exec.
package httputils

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/vchproject/vch/errdefs"
)

// APIFunc is the one signature of every route handler. A returned error is
// turned into a status and a JSON message by the server.
type APIFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error

// Route is one entry of a router's table.
type Route struct {
	Method  string
	Path    string
	Handler APIFunc
	// Stream: the request body is a stream (a tar for docker cp), not
	// JSON, and is not capped at the server's MaxBodyBytes.
	Stream bool
}

// Router is a resource's table of routes.
type Router interface {
	Routes() []Route
}

type versionKey struct{}

// WithVersion stores the negotiated API version in ctx.
func WithVersion(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, versionKey{}, v)
}

// VersionFromContext returns the negotiated API version.
func VersionFromContext(ctx context.Context) string {
	v, _ := ctx.Value(versionKey{}).(string)
	return v
}

// WriteJSON writes v as JSON with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ReadJSON decodes a JSON body into v; a malformed body is an
// invalid-parameter error with the decoder's text.
func ReadJSON(r *http.Request, v any) error {
	if r.Body == nil || r.ContentLength == 0 {
		return errdefs.InvalidParameter("invalid JSON: request body is empty")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errdefs.InvalidParameter(fmt.Sprintf("unsupported Content-Type header (%s): must be 'application/json'", ct))
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errdefs.InvalidParameter(fmt.Sprintf("request body too large: limit is %d bytes", tooBig.Limit))
		}
		if errors.Is(err, io.EOF) {
			return errdefs.InvalidParameter("invalid JSON: request body is empty")
		}
		return errdefs.InvalidParameter("invalid JSON: " + err.Error())
	}
	return nil
}

// BoolValue reads a boolean form value as docker does: "", "0", "no",
// "false" and "none" are false.
func BoolValue(r *http.Request, k string) bool {
	switch strings.ToLower(strings.TrimSpace(r.FormValue(k))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// IntValue reads an integer form value; def if absent.
func IntValue(r *http.Request, k string, def int) (int, error) {
	s := r.FormValue(k)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errdefs.InvalidParameter(fmt.Sprintf("invalid value for %s: %q", k, s))
	}
	return n, nil
}

// FlushWriter flushes after every write so streams reach the client at once.
// Started reports whether anything was written.
type FlushWriter struct {
	mu      sync.Mutex
	w       io.Writer
	f       http.Flusher
	started bool
	begin   func()
}

// NewFlushWriter wraps w; begin runs before the first write (to set headers).
func NewFlushWriter(w http.ResponseWriter, begin func()) *FlushWriter {
	f, _ := w.(http.Flusher)
	return &FlushWriter{w: w, f: f, begin: begin}
}

func (fw *FlushWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if !fw.started {
		fw.started = true
		if fw.begin != nil {
			fw.begin()
		}
	}
	n, err := fw.w.Write(p)
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}

// Started reports whether the response has begun.
func (fw *FlushWriter) Started() bool {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	return fw.started
}

// Start commits the response headers now.
func (fw *FlushWriter) Start() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if !fw.started {
		fw.started = true
		if fw.begin != nil {
			fw.begin()
		}
		if fw.f != nil {
			fw.f.Flush()
		}
	}
}

// Hijacked is a client connection taken over from net/http for a raw
// stream (attach, exec).
type Hijacked struct {
	Conn net.Conn
	// In reads what the client sends; it returns EOF when the client
	// half-closes its write side, while output may still be written.
	In io.ReadCloser
	// Out writes to the client.
	Out io.Writer
}

// Hijack answers the request with "101 UPGRADED" (when the client asked to
// upgrade) or "200 OK", with contentType, and hands over the connection.
func Hijack(w http.ResponseWriter, r *http.Request, contentType string) (*Hijacked, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("connection cannot be hijacked")
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijack: %w", err)
	}
	// Anything the client sent after the request is buffered in buf.Reader.
	var head string
	if strings.EqualFold(r.Header.Get("Upgrade"), "tcp") || strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") {
		head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + contentType + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
	} else {
		head = "HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n"
	}
	for _, k := range []string{"Api-Version", "Ostype", "Server"} {
		if v := w.Header().Get(k); v != "" {
			head += k + ": " + v + "\r\n"
		}
	}
	head += "\r\n"
	if _, err := conn.Write([]byte(head)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("hijack: %w", err)
	}
	return &Hijacked{Conn: conn, In: &connReader{r: buf.Reader, c: conn}, Out: conn}, nil
}

type connReader struct {
	r *bufio.Reader
	c net.Conn
}

func (c *connReader) Read(p []byte) (int, error) { return c.r.Read(p) }

// Close stops reading; the connection itself is closed by its owner.
func (c *connReader) Close() error {
	if cr, ok := c.c.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return nil
}

// EncodeJSON writes v as one JSON line without touching headers.
func EncodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
