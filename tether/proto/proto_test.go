package proto

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestConfigRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := &Config{ID: "abc", Hostname: "h", Process: Process{Args: []string{"echo", "hi"}, Tty: true}}
	if err := WriteConfig(&buf, in); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4096 != 0 {
		t.Fatalf("config disk not padded: %d bytes", buf.Len())
	}
	out, err := ReadConfig(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != "abc" || out.Process.Args[1] != "hi" || !out.Process.Tty {
		t.Fatalf("round trip lost data: %+v", out)
	}
	if _, err := ReadConfig(bytes.NewReader(make([]byte, 4096))); err == nil {
		t.Fatal("zero disk accepted")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 123)
	b := EncodeRecord(KindStderr, now, []byte("oops\n"))
	b = append(b, EncodeRecord(KindStdout, now, nil)...)
	r, n, err := DecodeRecord(b)
	if err != nil || r.Kind != KindStderr || string(r.Data) != "oops\n" || !r.Time.Equal(now) {
		t.Fatalf("decode: %+v %v", r, err)
	}
	if _, _, err := DecodeRecord(b[:n-1]); !errors.Is(err, ErrShortRecord) {
		t.Fatalf("partial record: %v", err)
	}
	if _, _, err := DecodeRecord(append([]byte{9}, b[1:]...)); err == nil || errors.Is(err, ErrShortRecord) {
		t.Fatalf("bad kind accepted: %v", err)
	}
}
