package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/helper"
)

// OnHelperTier says a model stage's server runs on the helper machine
// (config: assistant.tiers.helper.on_helper). The stage acquires the job's
// helper (the one slot, metered by the helper manager), reaches
// 127.0.0.1:Port there through SSH channels of the helper's connection (a
// helper.Tunnel: nothing listens on this machine), waits until the server
// lists the model, and sends its requests there: never to a public port.
type OnHelperTier struct {
	Port     int // the server's port on the helper's 127.0.0.1
	MemoryMB int // the helper must have at least this
	// ReadyTimeout bounds the wait for the server to list the model once
	// the helper is reachable; default 15 minutes.
	ReadyTimeout time.Duration
}

// heldHelper is the one helper a draft job holds: acquired by the first
// stage that needs it (a model stage on the on-helper tier), kept for the
// following stage and for the sandbox verify when that runs on a helper
// machine too, and released when the job ends, so a job has one helper
// and the slot at most one at a time.
type heldHelper struct {
	mu    sync.Mutex
	h     *helper.Helper
	ready map[string]bool // models the server has listed
}

func (c *Core) heldFor(job string) *heldHelper {
	v, _ := c.held.LoadOrStore(job, &heldHelper{ready: map[string]bool{}})
	return v.(*heldHelper)
}

// jobHelper is the live helper job holds, or nil.
func (c *Core) jobHelper(job string) *helper.Helper {
	v, ok := c.held.Load(job)
	if !ok {
		return nil
	}
	hh := v.(*heldHelper)
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if hh.h == nil || hh.h.Context().Err() != nil {
		return nil
	}
	return hh.h
}

// releaseJobHelper destroys the helper job j holds, if any, even when the
// job was cancelled by shutdown; if that fails, the record stays open and
// the reconcile loop destroys it.
func (c *Core) releaseJobHelper(ctx context.Context, j *Job) {
	v, ok := c.held.LoadAndDelete(j.ID)
	if !ok {
		return
	}
	hh := v.(*heldHelper)
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if hh.h == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	if err := hh.h.Release(rctx); err != nil {
		c.log.Error("release helper; the reconcile loop will destroy it", "job", j.ID, "helper", hh.h.Record().Name, "err", err)
	}
	hh.h = nil
}

// inferenceNeed sizes the job's helper: the tier's memory, and the
// repository's need when the sandbox verify will run on the same helper.
func (c *Core) inferenceNeed(repo RepoSpec, t *OnHelperTier) helper.Need {
	need := helper.Need{MemoryMB: t.MemoryMB, ModelServer: true}
	if c.onHelperMachine(repo) {
		need.MemoryMB, need.VCPUs = max(need.MemoryMB, repo.Helper.MemoryMB), repo.Helper.VCPUs
	}
	return need
}

// onHelper wraps a stage's metered provider when its tier runs on the
// helper machine; otherwise the stage calls its provider directly.
func (r *chainRun) onHelper(m *meteredProvider) provider.Provider {
	if m.ms.OnHelper == nil {
		return m
	}
	return &onHelperStage{run: r, m: m, configured: m.ms.Provider}
}

// onHelperStage makes each call of a stage on the on-helper tier: helper,
// tunnel, ready, then the metered call through the tunnel.
type onHelperStage struct {
	run        *chainRun
	m          *meteredProvider
	configured provider.Provider // the tier's provider; calls go to a copy through the tunnel
}

func (s *onHelperStage) Name() string        { return s.configured.Name() }
func (s *onHelperStage) Kind() provider.Kind { return s.configured.Kind() }

func (s *onHelperStage) Complete(ctx context.Context, req provider.Request, onDelta provider.OnDelta) (provider.Response, error) {
	c, j, t := s.run.c, s.run.j, s.m.ms.OnHelper
	what := fmt.Sprintf("the %s stage with %s (helper tier)", s.m.stage, req.Model)
	if c.opt.Helpers == nil {
		return provider.Response{}, fmt.Errorf("%s runs on a helper machine, but this process has no helper manager", what)
	}
	hh := c.heldFor(j.ID)
	hh.mu.Lock()
	defer hh.mu.Unlock()
	if hh.h == nil || hh.h.Context().Err() != nil {
		c.progress(j, "starting a helper machine ("+c.opt.Helpers.Provider()+") for "+what)
		h, err := c.opt.Helpers.Acquire(ctx, j.ID, c.inferenceNeed(s.run.repo, t))
		if ae, ok := asApproval(err); ok {
			esc := c.helperEscalation(what, ae)
			s.run.paused = &esc
			return provider.Response{}, fmt.Errorf("%s: %w", what, ErrNeedsApproval)
		}
		if isRefusal(err) {
			esc := c.helperRefusal(what+" on a helper machine", err)
			s.run.paused = &esc
			return provider.Response{}, err
		}
		if err != nil {
			return provider.Response{}, fmt.Errorf("start the helper for %s: %w", what, err)
		}
		hh.h, hh.ready = h, map[string]bool{}
	}
	h := hh.h
	name := h.Record().Name
	tun, err := h.Tunnel(t.Port)
	if err != nil {
		return provider.Response{}, fmt.Errorf("reach the model server on helper %s: %w", name, err)
	}
	defer tun.Close() // the tunnel's connections live as long as the call
	if !hh.ready[req.Model] {
		c.progress(j, fmt.Sprintf("waiting for the model server on helper %s to list %s", name, req.Model))
		if err := waitModelServer(ctx, tun, req.Model, t.ReadyTimeout); err != nil {
			return provider.Response{}, fmt.Errorf("model server on helper %s (127.0.0.1:%d there): %w", name, t.Port, err)
		}
		hh.ready[req.Model] = true
	}
	via, err := provider.Via(s.configured, tun.Target(), tun.HTTPClient())
	if err != nil {
		return provider.Response{}, err
	}
	// The metered call (reserve, call, settle, audit) goes through the
	// tunnel; the calls of one stage are sequential.
	s.m.ms.Provider = via
	defer func() { s.m.ms.Provider = s.configured }()
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(h.Context(), func() { cancel(context.Cause(h.Context())) })
	defer stop()
	res, err := s.m.Complete(cctx, req, onDelta)
	if err != nil && h.Context().Err() != nil { // the budget stopped the helper, or its TTL
		return res, fmt.Errorf("model server on helper %s: %w", name, context.Cause(h.Context()))
	}
	return res, err
}

// waitModelServer polls GET /v1/models through the tunnel until the
// server lists model, within bound (a new droplet installs the server and
// pulls the model after it boots).
func waitModelServer(ctx context.Context, tun *helper.Tunnel, model string, bound time.Duration) error {
	if bound <= 0 {
		bound = 15 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	client := tun.HTTPClient()
	client.Timeout = min(10*time.Second, bound)
	poll := min(time.Second, bound/10)
	last := "no answer"
	for {
		ids, err := listModels(ctx, client, tun.URL("/v1/models"))
		switch {
		case err == nil && slices.Contains(ids, model):
			return nil
		case err == nil:
			last = fmt.Sprintf("it lists %v, not %s (still pulling it?)", ids, model)
		default:
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx.Err()
			}
			return fmt.Errorf("%w: GET /v1/models did not list %s within %s (last: %s); check assistant.tiers.helper.on_helper (port, install) and the helper's cloud-init",
				ErrModelServerNotReady, model, bound, last)
		case <-time.After(poll):
		}
	}
}

// listModels reads an OpenAI-style model list ({"data":[{"id":...}]}),
// which Ollama, llama.cpp's server, vLLM and Anthropic all answer.
func listModels(ctx context.Context, client *http.Client, u string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // the dial's own error says what the helper answered
			err = ue.Err
		}
		return nil, fmt.Errorf("no answer (%v)", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read the model list: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", res.Status)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("the model list is not JSON: %w", err)
	}
	ids := []string{}
	for _, d := range list.Data {
		ids = append(ids, d.ID)
	}
	return ids, nil
}
