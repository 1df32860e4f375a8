package core

import (
	"context"
	"sync"
)

// broker fans events out to subscribers. A subscriber that does not keep
// up loses events and is told so with one EventResync, so a slow SSH
// session can never block a job.
type broker struct {
	mu     sync.Mutex
	subs   map[chan Event]*subscriber
	closed bool
}

type subscriber struct {
	missed bool // an event was dropped; send EventResync when there is room
}

const subscriberBuffer = 64

func newBroker() *broker { return &broker{subs: map[chan Event]*subscriber{}} }

func (b *broker) subscribe(ctx context.Context) (<-chan Event, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrServiceShutdown
	}
	ch := make(chan Event, subscriberBuffer)
	b.subs[ch] = &subscriber{}
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
	}()
	return ch, nil
}

func (b *broker) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch, s := range b.subs {
		if s.missed {
			select {
			case ch <- Event{Kind: EventResync}:
				s.missed = false
			default:
				continue
			}
		}
		select {
		case ch <- ev:
		default:
			s.missed = true
		}
	}
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}
