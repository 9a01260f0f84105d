// Package testwait bounds the waits of tests: a wait that would block
// forever (a hang the code under test must not have) fails the test with
// what it waited for instead. The bounds are generous: a loaded 2-core CI
// machine is slow, not stuck. They are no timing assertions; speed is
// measured in bench/.
package testwait

import (
	"testing"
	"time"
)

// Recv receives from ch, failing t with what if nothing comes (and ch is
// not closed) within bound.
func Recv[T any](t testing.TB, ch <-chan T, bound time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(bound)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing after %v", what, bound)
	}
	var zero T
	return zero
}

// Eventually polls cond every interval until it holds, failing t with
// what once bound has passed.
func Eventually(t testing.TB, bound, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never happened: %s", what)
		}
		time.Sleep(interval)
	}
}
