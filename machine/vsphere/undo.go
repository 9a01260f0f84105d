package vsphere

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"
)

// undoStack holds the removal of each thing a create made; run unwinds
// it in reverse, once.
type undoStack struct {
	steps []undoStep
}

type undoStep struct {
	what string
	fn   func(context.Context) error
}

func (u *undoStack) push(what string, fn func(context.Context) error) {
	u.steps = append(u.steps, undoStep{what, fn})
}

// run removes everything pushed, newest first, even when ctx is already
// cancelled (an interrupted create still cleans up, within 2 minutes).
func (u *undoStack) run(ctx context.Context, log *zap.Logger) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	var errs []error
	for i := len(u.steps) - 1; i >= 0; i-- {
		st := u.steps[i]
		if err := st.fn(ctx); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", st.what, err))
			log.Warn("cleanup failed", zap.String("what", st.what), zap.Error(err))
			continue
		}
		log.Info("cleaned up", zap.String("what", st.what))
	}
	u.steps = nil
	return errors.Join(errs...)
}

func sortStrings(s []string) { sort.Strings(s) }
