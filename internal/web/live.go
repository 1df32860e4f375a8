package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

// heartbeat keeps proxies from closing an idle event stream.
const heartbeat = 25 * time.Second

// events streams core's change notices as server-sent events. The page's
// script re-fetches itself on each one and swaps the changed part in
// place, so nothing reloads and the scroll position stays. Chat traffic is
// left out: no page shows it.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		return
	}
	rc := http.NewResponseController(w)
	// The server's ReadTimeout would otherwise end a stream after 30 s.
	_ = rc.SetReadDeadline(time.Time{})
	ch, err := s.opt.Service.Subscribe(r.Context())
	if err != nil {
		http.Error(w, "503 live updates are unavailable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	rc.Flush()
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			fmt.Fprint(w, ": still here\n\n")
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if ev.Kind == core.EventMessage || ev.Kind == core.EventConversation {
				continue
			}
			raw, _ := json.Marshal(struct {
				Kind core.EventKind `json:"kind"`
				ID   string         `json:"id,omitempty"`
			}{ev.Kind, ev.ID})
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", raw)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
