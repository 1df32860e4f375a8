package rpc

import (
	"context"
	"encoding/json"

	"github.com/patchgit/patchgit/internal/core"
)

// stream is the client side of one subscription. The reader goroutine
// delivers into ch without ever blocking; the client's mutex guards ch's
// closing, so nothing is sent on a closed channel.
type stream struct {
	ch     chan core.Event
	lost   bool // events were dropped: send EventResync when there is room
	ended  chan struct{}
	closed bool
}

func (s *stream) close() {
	if !s.closed {
		s.closed = true
		close(s.ch)
		close(s.ended)
	}
}

// offer hands ev to the subscriber, or drops it when the subscriber is
// behind. Called with the client's mutex held.
func (s *stream) offer(ev core.Event) {
	if s.lost {
		select {
		case s.ch <- core.Event{Kind: core.EventResync, Text: "events were dropped: re-read everything"}:
			s.lost = false
		default:
			return
		}
	}
	select {
	case s.ch <- ev:
	default:
		s.lost = true
	}
}

func (c *Client) deliver(id uint64, raw json.RawMessage) {
	var ev core.Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		// A newer daemon may send events this client cannot read: ask the
		// subscriber to re-read rather than guess.
		ev = core.Event{Kind: core.EventResync, Text: "unreadable event: re-read everything"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.streams[id]; s != nil {
		s.offer(ev)
	}
}

func (c *Client) endStream(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.streams[id]; s != nil {
		delete(c.streams, id)
		s.close()
	}
}

// Subscribe delivers the daemon's events until ctx ends or the connection
// does. A subscriber that falls behind loses events and then receives an
// EventResync.
func (c *Client) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	id, ch, err := c.register("Subscribe")
	if err != nil {
		return nil, err
	}
	s := &stream{ch: make(chan core.Event, streamBuffer), ended: make(chan struct{})}
	// Registered before the request goes out: the first event may follow
	// the answer immediately.
	c.mu.Lock()
	c.streams[id] = s
	c.mu.Unlock()
	fail := func(err error) (<-chan core.Event, error) {
		c.endStream(id)
		return nil, err
	}
	if err := c.send(ctx, "Subscribe", id, nil); err != nil {
		c.unregister(id)
		return fail(err)
	}
	if _, err := c.await(ctx, "Subscribe", id, ch); err != nil {
		return fail(err)
	}
	go func() {
		select {
		case <-ctx.Done():
			c.endStream(id)
			c.w.write(&frame{Cancel: id}) //nolint:errcheck // a dead connection needs no cancel
		case <-s.ended: // the daemon ended it, or the connection is gone
		}
	}()
	return s.ch, nil
}
