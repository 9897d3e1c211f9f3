package backend

import (
	"sync"

	"swarmdeck/model"
)

// recentEvents is how many events a broker keeps for late subscribers.
const recentEvents = 2000

// broker fans events out to subscribers without ever blocking the
// publisher: a subscriber that does not keep up loses events (counted)
// rather than stalling the cluster. It has its own lock and calls nothing
// outside, so publishing under the cluster's lock cannot deadlock.
type broker struct {
	mu      sync.Mutex
	subs    map[*subscription]struct{}
	recent  []model.Event // ring buffer, oldest at start
	start   int
	dropped int
}

type subscription struct {
	ch      chan model.Event
	dropped int
	strict  bool // dropped, its channel closed, when its buffer fills
}

func newBroker() *broker { return &broker{subs: map[*subscription]struct{}{}} }

func (b *broker) publish(e model.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.recent) < recentEvents {
		b.recent = append(b.recent, e)
	} else {
		b.recent[b.start] = e
		b.start = (b.start + 1) % recentEvents
	}
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped++
			b.dropped++
			if s.strict {
				delete(b.subs, s)
				close(s.ch)
			}
		}
	}
}

// subscribe returns a channel of every event from now on and a function
// that ends the subscription.
func (b *broker) subscribe(buffer int) (<-chan model.Event, func()) {
	return b.add(&subscription{ch: make(chan model.Event, buffer)})
}

// follow is subscribe for a follower that must keep up: when its buffer
// fills, it is dropped and its channel closed, so a client that does not
// read holds at most buffer events.
func (b *broker) follow(buffer int) (<-chan model.Event, func()) {
	return b.add(&subscription{ch: make(chan model.Event, buffer), strict: true})
}

func (b *broker) add(s *subscription) (<-chan model.Event, func()) {
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, s) // a dropped follower is gone already
			b.mu.Unlock()
		})
	}
}

// history returns the kept events, oldest first.
func (b *broker) history() []model.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]model.Event, 0, len(b.recent))
	out = append(out, b.recent[b.start:]...)
	return append(out, b.recent[:b.start]...)
}
