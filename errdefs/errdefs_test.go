package errdefs

import (
	"fmt"
	"testing"
)

func TestClassesFollowWrapChain(t *testing.T) {
	err := fmt.Errorf("start %s: %w", "abc", NotFound("No such container: abc"))
	if !IsNotFound(err) || IsConflict(err) {
		t.Fatalf("class lost through wrapping: %v", err)
	}
	if got := NotFound("No such container: abc").Error(); got != "No such container: abc" {
		t.Fatalf("message changed: %q", got)
	}
	if !IsAlreadyExists(fmt.Errorf("x: %w", ErrAlreadyExists)) {
		t.Fatal("sentinel wrap not classified")
	}
}
