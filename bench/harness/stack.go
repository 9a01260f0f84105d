package harness

import (
	"context"
	"sync"

	"go.uber.org/zap"
)

// Stack is an undo stack: each step that creates something pushes the
// function that removes it. Unwind runs them in reverse, each exactly once.
type Stack struct {
	log   *zap.Logger
	mu    sync.Mutex
	undos []undo
}

type undo struct {
	name string
	fn   func(context.Context) error
}

// NewStack returns an empty stack that logs each undo.
func NewStack(log *zap.Logger) *Stack { return &Stack{log: log} }

// Push records fn, named for the log, to run at Unwind.
func (s *Stack) Push(name string, fn func(context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.undos = append(s.undos, undo{name, fn})
}

// Unwind runs every pushed undo, last first. A failing undo is logged and
// the rest still run; the first error is returned.
func (s *Stack) Unwind(ctx context.Context) error {
	s.mu.Lock()
	undos := s.undos
	s.undos = nil
	s.mu.Unlock()
	var first error
	for i := len(undos) - 1; i >= 0; i-- {
		u := undos[i]
		s.log.Info("cleanup", zap.String("step", u.name))
		if err := u.fn(ctx); err != nil {
			s.log.Warn("cleanup failed", zap.String("step", u.name), zap.Error(err))
			if first == nil {
				first = err
			}
		}
	}
	return first
}
