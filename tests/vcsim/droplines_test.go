package main

import (
	"bytes"
	"log"
	"testing"
)

// TestDropLines: the server's handshake-failure lines are dropped, every
// other log line is passed on whole.
func TestDropLines(t *testing.T) {
	var out bytes.Buffer
	l := log.New(dropLines{w: &out, marker: []byte("TLS handshake error")}, "", 0)
	l.Printf("http: TLS handshake error from 127.0.0.1:36812: remote error: tls: bad certificate")
	l.Printf("vcsim: a line that matters")
	l.Printf("http: TLS handshake error from 127.0.0.1:36828: EOF")
	if got, want := out.String(), "vcsim: a line that matters\n"; got != want {
		t.Errorf("passed on %q, want %q", got, want)
	}
}
