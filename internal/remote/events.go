package remote

import (
	"context"
	"fmt"

	"github.com/patchgit/patchgit/internal/core"
)

// Subscribe delivers the daemon's events until ctx ends. The channel
// outlives dropped connections: on a drop it carries a core.EventNotice,
// and once reconnected a core.EventResync (the events in between are lost,
// so the subscriber re-reads). If reconnecting becomes pointless a last
// notice says why; the channel closes only when ctx ends or on Close.
func (s *Service) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	l, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	in, err := l.rpc.Subscribe(ctx)
	if err != nil {
		return nil, err
	}
	out := make(chan core.Event, eventBuffer)
	s.wg.Go(func() { s.forward(ctx, l, in, out) })
	return out, nil
}

// forward copies events from one connection's stream after another.
func (s *Service) forward(ctx context.Context, l *link, in <-chan core.Event, out chan<- core.Event) {
	defer close(out)
	target := s.d.opts.Target
	send := func(ev core.Event) bool {
		select {
		case out <- ev:
			return true
		case <-ctx.Done():
			return false
		case <-s.ctx.Done():
			return false
		}
	}
	for {
		for ev := range in {
			if !send(ev) {
				return
			}
		}
		if ctx.Err() != nil || s.ctx.Err() != nil {
			return
		}
		if !l.closed() {
			// The daemon ended the stream on a live connection: it is
			// going away; the drop follows.
			select {
			case <-l.done:
			case <-ctx.Done():
			case <-s.ctx.Done():
			}
		}
		if !send(core.Event{Kind: core.EventNotice, Text: fmt.Sprintf("connection to %s lost: reconnecting…", target)}) {
			return
		}
		var err error
		for {
			if l, err = s.live(ctx); err != nil {
				break
			}
			if in, err = l.rpc.Subscribe(ctx); err == nil || !dropped(l, err) {
				break
			}
		}
		if err != nil {
			if ctx.Err() == nil && s.ctx.Err() == nil {
				send(core.Event{Kind: core.EventNotice, Text: err.Error()})
				select {
				case <-ctx.Done():
				case <-s.ctx.Done():
				}
			}
			return
		}
		if !send(core.Event{Kind: core.EventResync, Text: fmt.Sprintf("reconnected to %s", target)}) {
			return
		}
	}
}
