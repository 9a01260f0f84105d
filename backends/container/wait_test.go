package container

import (
	"testing"
	"time"

	"github.com/vchproject/vch/internal/testwait"
)

// testBound bounds every wait of these tests. It only turns a hang into a
// failure (a loaded 2-core CI machine is slow, not stuck); it is no timing
// assertion.
const testBound = 30 * time.Second

// eventually polls cond until it holds, failing the test after testBound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Eventually(t, testBound, 2*time.Millisecond, what, cond)
}

// recv receives from ch, failing the test with what if nothing comes (or
// ch is not closed) within testBound.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return testwait.Recv(t, ch, testBound, what)
}
