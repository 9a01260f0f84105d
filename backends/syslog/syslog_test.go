package syslog

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{"udp://127.0.0.1:514": "udp 127.0.0.1:514", "tcp://logs.example.com:6514": "tcp logs.example.com:6514", "udp://[::1]:514": "udp [::1]:514"} {
		n, a, err := ParseAddress(in)
		if err != nil || n+" "+a != want {
			t.Errorf("ParseAddress(%q) = %s %s, %v", in, n, a, err)
		}
	}
	for _, in := range []string{"", "127.0.0.1:514", "http://x:1", "udp://x", "udp://x:0", "tcp://x:514/path", "udp://u@x:514"} {
		if _, _, err := ParseAddress(in); err == nil || !strings.Contains(err.Error(), "udp://host:port") {
			t.Errorf("ParseAddress(%q) = %v", in, err)
		}
	}
}

func TestFormat(t *testing.T) {
	at := time.Date(2026, 11, 30, 18, 0, 0, 123456000, time.FixedZone("x", 3600))
	got := string(Format("stdout", at, "vch1", "web", "3f2a9c1b7d4e", []byte("hello world\r")))
	if want := "<30>1 2026-11-30T17:00:00.123456Z vch1 web 3f2a9c1b7d4e stdout - hello world"; got != want {
		t.Errorf("stdout: %q\nwant %q", got, want)
	}
	got = string(Format("stderr", at, "", "a name", "", []byte("oops")))
	if want := "<27>1 2026-11-30T17:00:00.123456Z - a_name - stderr - oops"; got != want {
		t.Errorf("stderr: %q\nwant %q", got, want)
	}
	if long := string(Format("stdout", at, "h", strings.Repeat("n", 60), "p", nil)); !strings.Contains(long, " "+strings.Repeat("n", 48)+" p ") {
		t.Errorf("APP-NAME not cut to 48: %q", long)
	}
}

func TestReadFramed(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("5 hello11 hello world"))
	for _, want := range []string{"hello", "hello world"} {
		got, err := ReadFramed(r)
		if err != nil || got != want {
			t.Fatalf("ReadFramed = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := ReadFramed(bufio.NewReader(strings.NewReader("x hello"))); err == nil {
		t.Error("bad length accepted")
	}
}
