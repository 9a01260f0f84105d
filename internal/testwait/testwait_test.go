package testwait

import (
	"testing"
	"time"
)

// fatalRecorder notes a Fatalf instead of ending the goroutine's test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
}

func TestRecv(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if v := Recv(t, ch, time.Minute, "a value"); v != 7 {
		t.Fatalf("got %d", v)
	}
	close(ch)
	if v := Recv(t, ch, time.Minute, "a close"); v != 0 {
		t.Fatalf("closed channel gave %d", v)
	}
	f := &fatalRecorder{TB: t}
	if v := Recv(f, make(chan int), time.Millisecond, "nothing"); v != 0 || f.msg == "" {
		t.Fatalf("an empty channel gave %d and no failure (%q)", v, f.msg)
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, time.Minute, time.Millisecond, "a third call", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times", n)
	}
	f := &fatalRecorder{TB: t}
	Eventually(f, time.Millisecond, time.Millisecond, "never", func() bool { return f.msg != "" })
	if f.msg == "" {
		t.Fatal("a condition that never held did not fail")
	}
}
