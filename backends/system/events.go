package system

import (
	"time"

	eventtypes "github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"

	"github.com/vchproject/vch/backends/events"
)

// SubscribeToEvents serves GET /events from the VCH's event log.
func (b *Backend) SubscribeToEvents(since time.Time, args filters.Args) ([]eventtypes.Message, <-chan eventtypes.Message, func(), error) {
	f, err := events.NewFilter(args)
	if err != nil {
		return nil, nil, nil, err
	}
	past, sub := b.cfg.Events.Subscribe(since, f)
	return past, sub.C(), sub.Close, nil
}
