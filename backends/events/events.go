package events

import (
	"errors"
	"sync"
	"time"

	eventtypes "github.com/docker/docker/api/types/events"
)

// DefaultCapacity is how many events a Service keeps for replay.
const DefaultCapacity = 1024

// subscriberBuffer is how many events a subscriber may lag behind before
// it is dropped.
const subscriberBuffer = 1024

// ErrSlowSubscriber ends a subscription that fell too far behind.
var ErrSlowSubscriber = errors.New("events: subscriber too slow, events were dropped")

// Service keeps recent events and fans new ones out to subscribers.
type Service struct {
	now func() time.Time

	mu   sync.Mutex
	ring []eventtypes.Message // ring[(start+i)%cap] for i < n
	next int                  // where the next event goes
	n    int
	subs map[*Subscription]struct{}
}

// New returns a Service that keeps capacity events (<= 0: DefaultCapacity).
func New(capacity int) *Service {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Service{now: time.Now, ring: make([]eventtypes.Message, capacity), subs: map[*Subscription]struct{}{}}
}

// Log records an event that happened now, in docker's shape: scope local,
// time and timeNano, and for containers and images the legacy status, id
// and from fields. A nil Service drops it.
func (s *Service) Log(typ eventtypes.Type, action eventtypes.Action, actor eventtypes.Actor) {
	if s == nil {
		return
	}
	if actor.Attributes == nil {
		actor.Attributes = map[string]string{}
	}
	m := eventtypes.Message{Type: typ, Action: action, Actor: actor, Scope: "local"}
	switch typ {
	case eventtypes.ContainerEventType:
		//lint:ignore SA1019 docker still sends the legacy fields; older clients read them
		m.ID, m.Status, m.From = actor.ID, string(action), actor.Attributes["image"]
	case eventtypes.ImageEventType:
		//lint:ignore SA1019 as above
		m.ID, m.Status = actor.ID, string(action)
	}
	s.publish(m)
}

func (s *Service) publish(m eventtypes.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Times are taken under the lock, so the ring is ordered by time and a
	// since replay never misses an event that a subscriber also gets.
	now := s.now().UTC()
	if s.n > 0 {
		last := s.ring[(s.next+len(s.ring)-1)%len(s.ring)].TimeNano
		if now.UnixNano() <= last {
			now = time.Unix(0, last+1).UTC()
		}
	}
	m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	s.ring[s.next] = m
	s.next = (s.next + 1) % len(s.ring)
	if s.n < len(s.ring) {
		s.n++
	}
	for sub := range s.subs {
		if !sub.filter.Include(m) {
			continue
		}
		select {
		case sub.ch <- m:
		default:
			sub.err = ErrSlowSubscriber
			s.drop(sub)
		}
	}
}

// drop ends sub; s.mu is held.
func (s *Service) drop(sub *Subscription) {
	if _, ok := s.subs[sub]; !ok {
		return
	}
	delete(s.subs, sub)
	close(sub.ch)
}

// Subscribe returns the kept events at or after since that f includes
// (none for a zero since), oldest first, and a subscription to every
// later one.
func (s *Service) Subscribe(since time.Time, f Filter) ([]eventtypes.Message, *Subscription) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var past []eventtypes.Message
	if !since.IsZero() {
		from := since.UnixNano()
		start := (s.next - s.n + len(s.ring)) % len(s.ring)
		for i := 0; i < s.n; i++ {
			m := s.ring[(start+i)%len(s.ring)]
			if m.TimeNano >= from && f.Include(m) {
				past = append(past, m)
			}
		}
	}
	sub := &Subscription{s: s, filter: f, ch: make(chan eventtypes.Message, subscriberBuffer)}
	s.subs[sub] = struct{}{}
	return past, sub
}

// Subscription yields events as they are logged.
type Subscription struct {
	s      *Service
	filter Filter
	ch     chan eventtypes.Message
	err    error // set under s.mu before ch closes
}

// C yields events; it closes when the subscription ends (Close, or the
// subscriber fell behind: see Err).
func (sub *Subscription) C() <-chan eventtypes.Message { return sub.ch }

// Err says why C closed: ErrSlowSubscriber, or nil after Close.
func (sub *Subscription) Err() error {
	sub.s.mu.Lock()
	defer sub.s.mu.Unlock()
	return sub.err
}

// Close ends the subscription.
func (sub *Subscription) Close() {
	sub.s.mu.Lock()
	defer sub.s.mu.Unlock()
	sub.s.drop(sub)
}
