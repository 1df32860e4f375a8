// Package providertest runs local HTTP servers that speak the OpenAI chat
// completions protocol and Anthropic's Messages protocol (JSON and
// server-sent events), answering from a script, so tests drive the real
// SDKs end to end. It follows the documented wire formats:
// https://platform.openai.com/docs/api-reference/chat and
// https://docs.anthropic.com/en/api/messages-streaming.
package providertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Usage is what a scripted answer reports; nil in a Reply omits usage.
type Usage struct {
	Input, Cached, Output int64
}

// Reply is one scripted answer.
type Reply struct {
	Status     int               // 0: 200
	Text       string            // the answer's text (200) or the error message (otherwise)
	Usage      *Usage            // nil: the answer carries no usage at all
	Headers    map[string]string // extra response headers (retry-after-ms, say)
	Hang       time.Duration     // wait this long (or until the client leaves) before answering
	StopReason string            // "": stop / end_turn
}

// Request is what the server received.
type Request struct {
	Host   string // the Host header
	Header http.Header
	Body   map[string]any
}

// Server is a scripted model server. Replies are used in order; past the
// end the last one repeats.
type Server struct {
	URL string // base URL to give the SDK (…/v1 for OpenAI, the root for Anthropic)

	mu       sync.Mutex
	replies  []Reply
	requests []Request
}

// Requests returns what was received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Push appends replies to the script.
func (s *Server) Push(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replies = append(s.replies, r...)
}

func (s *Server) next(r *http.Request) (Reply, map[string]any, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return Reply{}, nil, err
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return Reply{}, nil, fmt.Errorf("request body is not JSON: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Host: r.Host, Header: r.Header.Clone(), Body: body})
	if len(s.replies) == 0 {
		return Reply{Status: 500, Text: "providertest: no reply scripted"}, body, nil
	}
	reply := s.replies[0]
	if len(s.replies) > 1 {
		s.replies = s.replies[1:]
	}
	return reply, body, nil
}

// Config says where a server listens and what it lists.
type Config struct {
	// Listener: nil listens on 127.0.0.1:0. A test hands its own to see
	// who connects (a model server on a helper reached through an SSH tunnel).
	Listener net.Listener
	// Models are what GET /v1/models lists (OpenAI's list-models answer).
	Models []string
}

func start(t testing.TB, handler func(s *Server, w http.ResponseWriter, r *http.Request, reply Reply, body map[string]any), path string, suffix string, replies []Reply) *Server {
	return startWith(t, Config{}, handler, path, suffix, replies)
}

func startWith(t testing.TB, cfg Config, handler func(s *Server, w http.ResponseWriter, r *http.Request, reply Reply, body map[string]any), path string, suffix string, replies []Reply) *Server {
	t.Helper()
	s := &Server{replies: replies}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		data := []any{}
		for _, m := range cfg.Models {
			data = append(data, map[string]any{"id": m, "object": "model", "created": 0, "owned_by": "providertest"})
		}
		writeJSON(w, 200, map[string]any{"object": "list", "data": data})
	})
	mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
		reply, body, err := s.next(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if reply.Hang > 0 {
			select {
			case <-time.After(reply.Hang):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range reply.Headers {
			w.Header().Set(k, v)
		}
		handler(s, w, r, reply, body)
	})
	ts := httptest.NewUnstartedServer(mux)
	if cfg.Listener != nil {
		ts.Listener.Close()
		ts.Listener = cfg.Listener
	}
	ts.Start()
	t.Cleanup(ts.Close)
	s.URL = ts.URL + suffix
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// pieces splits text into a few chunks, as a streaming server would.
func pieces(text string) []string {
	var out []string
	for len(text) > 0 {
		n := min(len(text), 7)
		out = append(out, text[:n])
		text = text[n:]
	}
	return out
}

func sse(w http.ResponseWriter, event string, v any) {
	b, _ := json.Marshal(v)
	if event != "" {
		fmt.Fprintf(w, "event: %s\n", event)
	}
	fmt.Fprintf(w, "data: %s\n\n", b)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

func streaming(body map[string]any) bool { b, _ := body["stream"].(bool); return b }

// NewOpenAI starts a chat completions server at <URL>/chat/completions.
func NewOpenAI(t testing.TB, replies ...Reply) *Server {
	return start(t, serveOpenAI, "/v1/chat/completions", "/v1", replies)
}

func serveOpenAI(s *Server, w http.ResponseWriter, r *http.Request, reply Reply, body map[string]any) {
	if reply.Status != 0 && reply.Status != 200 {
		writeJSON(w, reply.Status, map[string]any{"error": map[string]any{"message": reply.Text, "type": "scripted", "code": nil}})
		return
	}
	model, _ := body["model"].(string)
	finish := reply.StopReason
	if finish == "" {
		finish = "stop"
	}
	var usage map[string]any
	if reply.Usage != nil {
		u := reply.Usage
		usage = map[string]any{"prompt_tokens": u.Input + u.Cached, "completion_tokens": u.Output,
			"total_tokens": u.Input + u.Cached + u.Output, "prompt_tokens_details": map[string]any{"cached_tokens": u.Cached}}
	}
	if !streaming(body) {
		res := map[string]any{"id": "chatcmpl-test", "object": "chat.completion", "created": time.Now().Unix(), "model": model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": reply.Text}, "finish_reason": finish}}}
		if usage != nil {
			res["usage"] = usage
		}
		writeJSON(w, 200, res)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	chunk := func(delta map[string]any, finish any) map[string]any {
		return map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": time.Now().Unix(), "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
	}
	sse(w, "", chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for _, p := range pieces(reply.Text) {
		sse(w, "", chunk(map[string]any{"content": p}, nil))
	}
	sse(w, "", chunk(map[string]any{}, finish))
	opts, _ := body["stream_options"].(map[string]any)
	if include, _ := opts["include_usage"].(bool); include && usage != nil {
		sse(w, "", map[string]any{"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": time.Now().Unix(),
			"model": model, "choices": []any{}, "usage": usage})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// NewOpenAIWith starts a chat completions server as NewOpenAI does, on
// cfg's listener, listing cfg's models.
func NewOpenAIWith(t testing.TB, cfg Config, replies ...Reply) *Server {
	return startWith(t, cfg, serveOpenAI, "/v1/chat/completions", "/v1", replies)
}

// NewAnthropic starts a Messages server at <URL>/v1/messages.
func NewAnthropic(t testing.TB, replies ...Reply) *Server {
	return start(t, serveAnthropic, "/v1/messages", "", replies)
}

func serveAnthropic(s *Server, w http.ResponseWriter, r *http.Request, reply Reply, body map[string]any) {
	if reply.Status != 0 && reply.Status != 200 {
		writeJSON(w, reply.Status, map[string]any{"type": "error", "error": map[string]any{"type": "scripted_error", "message": reply.Text}})
		return
	}
	model, _ := body["model"].(string)
	stop := reply.StopReason
	if stop == "" {
		stop = "end_turn"
	}
	var usage map[string]any
	if reply.Usage != nil {
		usage = map[string]any{"input_tokens": reply.Usage.Input, "cache_read_input_tokens": reply.Usage.Cached,
			"cache_creation_input_tokens": 0, "output_tokens": reply.Usage.Output}
	}
	msg := map[string]any{"id": "msg_test", "type": "message", "role": "assistant", "model": model,
		"content": []any{map[string]any{"type": "text", "text": reply.Text}}, "stop_reason": stop, "stop_sequence": nil}
	if usage != nil {
		msg["usage"] = usage
	}
	if !streaming(body) {
		writeJSON(w, 200, msg)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	start := map[string]any{"id": "msg_test", "type": "message", "role": "assistant", "model": model,
		"content": []any{}, "stop_reason": nil, "stop_sequence": nil}
	if usage != nil {
		start["usage"] = map[string]any{"input_tokens": reply.Usage.Input, "cache_read_input_tokens": reply.Usage.Cached,
			"cache_creation_input_tokens": 0, "output_tokens": 1}
	}
	sse(w, "message_start", map[string]any{"type": "message_start", "message": start})
	sse(w, "content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "text", "text": ""}})
	sse(w, "ping", map[string]any{"type": "ping"})
	for _, p := range pieces(reply.Text) {
		sse(w, "content_block_delta", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "text_delta", "text": p}})
	}
	sse(w, "content_block_stop", map[string]any{"type": "content_block_stop", "index": 0})
	delta := map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": stop, "stop_sequence": nil}}
	if usage != nil {
		delta["usage"] = map[string]any{"output_tokens": reply.Usage.Output}
	}
	sse(w, "message_delta", delta)
	sse(w, "message_stop", map[string]any{"type": "message_stop"})
}

// Text returns the text of every message a request carried, joined: what
// left the machine.
func (r Request) Text() string {
	var b strings.Builder
	if sys, ok := r.Body["system"]; ok {
		fmt.Fprint(&b, sys, "\n")
	}
	msgs, _ := r.Body["messages"].([]any)
	for _, m := range msgs {
		mm, _ := m.(map[string]any)
		switch c := mm["content"].(type) {
		case string:
			b.WriteString(c)
		case []any:
			for _, part := range c {
				if p, ok := part.(map[string]any); ok {
					fmt.Fprint(&b, p["text"])
				}
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
