package local

import (
	"context"
	"io"

	"github.com/containerd/log"
	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
)

// zapHook forwards containerd's logrus records to the store's zap logger
// at debug level: its resolver logs every failed request, which callers
// already get as an error.
type zapHook struct{ log *zap.Logger }

func (zapHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h zapHook) Fire(e *logrus.Entry) error {
	fields := make([]zap.Field, 0, len(e.Data))
	for k, v := range e.Data {
		fields = append(fields, zap.Any(k, v))
	}
	h.log.Debug(e.Message, fields...)
	return nil
}

// withContainerdLog makes containerd's libraries log through s.log.
func (s *Store) withContainerdLog(ctx context.Context) context.Context {
	l := logrus.New()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.DebugLevel)
	l.AddHook(zapHook{s.log.Named("containerd")})
	return log.WithLogger(ctx, logrus.NewEntry(l))
}
