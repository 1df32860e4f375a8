package helper_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/assist/providertest"
	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"github.com/patchgit/patchgit/internal/store"
)

func forwardManager(t testing.TB, p helper.Provider, ms *helper.ModelServer) *helper.Manager {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "patchgit.db"), store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := helper.NewManager(db, p, helper.Options{Instance: "fwd", Audit: audit.New(db, filepath.Join(dir, "audit.head")),
		ReadyTimeout: 20 * time.Second, Poll: 20 * time.Millisecond, ConfirmFor: 10 * time.Second, ModelServer: ms})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// listModels asks GET /v1/models at base and returns the ids.
func listModels(t *testing.T, base string) []string {
	t.Helper()
	res, err := http.Get(base + "/v1/models")
	if err != nil {
		t.Fatalf("GET %s/v1/models: %v", base, err)
	}
	defer res.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("list models: %v: %s", err, raw)
	}
	var ids []string
	for _, d := range list.Data {
		ids = append(ids, d.ID)
	}
	return ids
}

// A helper acquired to serve inference on DigitalOcean: its cloud-init
// carries the model server's setup (and a plain helper's does not); a
// model server on 127.0.0.1 of the "droplet" is reached through the
// forward, and every connection it accepts was made by sshd, never by
// this process. The forward ends with Close and with the helper.
func TestForwardThroughSSHReachesTheHelpersLoopbackOnly(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	ln, err := helpertest.NewPeerListener()
	if err != nil {
		t.Fatal(err)
	}
	srv := providertest.NewOpenAIWith(t, providertest.Config{Listener: ln, Models: []string{"qwen2.5-coder:7b"}})
	_ = srv
	setup := helper.OllamaSetup(ln.Port(), "qwen2.5-coder:7b")
	m := forwardManager(t, h.Provider(filepath.Join(t.TempDir(), "work")), &setup)
	ctx := context.Background()

	hp, err := m.Acquire(ctx, "job-infer", helper.Need{MemoryMB: 4096, ModelServer: true})
	if err != nil {
		t.Fatal(err)
	}
	ud := h.Fake.Droplets()[0].UserData
	for _, want := range []string{"- git\n", "- zstd\n", "runcmd:", "curl -fsSL https://ollama.com/install.sh | sh",
		"ollama pull 'qwen2.5-coder:7b'", "OLLAMA_HOST=127.0.0.1:", "/etc/systemd/system/ollama.service.d/patchgit.conf"} {
		if !strings.Contains(ud, want) {
			t.Errorf("user data lacks %q:\n%s", want, strings.ReplaceAll(ud, "PRIVATE KEY", "(key)"))
		}
	}
	if rec := hp.Record(); rec.Size != "s-2vcpu-4gb" {
		t.Errorf("size %s, want the smallest with 4 GB", rec.Size)
	}

	fw, err := hp.Forward(ctx, ln.Port())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fw.Addr(), "127.0.0.1:") || fw.Addr() == ln.Addr().String() {
		t.Fatalf("forward listens on %s", fw.Addr())
	}
	for range 3 { // new connections each time
		if got := listModels(t, "http://"+fw.Addr()); !slices.Equal(got, []string{"qwen2.5-coder:7b"}) {
			t.Fatalf("models through the forward: %v", got)
		}
		http.DefaultClient.CloseIdleConnections()
	}
	peers := ln.Peers()
	if len(peers) == 0 {
		t.Fatal("the server accepted nothing")
	}
	for _, p := range peers {
		if !strings.HasPrefix(p, "sshd") {
			t.Fatalf("the model server was dialed by %q (all: %v): want sshd only", p, peers)
		}
	}
	fw.Close()
	if _, err := http.Get("http://" + fw.Addr() + "/v1/models"); err == nil {
		t.Fatal("the forward still answers after Close")
	}

	// The forward dies with the helper.
	fw2, err := hp.Forward(ctx, ln.Port())
	if err != nil {
		t.Fatal(err)
	}
	if err := hp.Release(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := (&http.Client{Timeout: time.Second}).Get("http://" + fw2.Addr() + "/v1/models")
		if err != nil {
			break
		}
		c.Body.Close()
		if time.Now().After(deadline) {
			t.Fatal("the forward outlived its helper")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := hp.Forward(ctx, ln.Port()); err == nil {
		t.Fatal("a forward opened on a released helper")
	}

	// A helper without inference: cloud-init as before, no model server.
	hp, err = m.Acquire(ctx, "job-plain", helper.Need{})
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Release(ctx)
	ds := h.Fake.Droplets()
	if ud := ds[len(ds)-1].UserData; strings.Contains(ud, "runcmd") || strings.Contains(ud, "ollama") || strings.Contains(ud, "zstd") {
		t.Errorf("a plain helper's user data installs a model server:\n%s", strings.ReplaceAll(ud, "PRIVATE KEY", "(key)"))
	}
}

// The local provider forwards to this machine's loopback directly: the
// server's peer is this process.
func TestForwardOnLocalProviderDialsLoopbackDirectly(t *testing.T) {
	ln, err := helpertest.NewPeerListener()
	if err != nil {
		t.Fatal(err)
	}
	providertest.NewOpenAIWith(t, providertest.Config{Listener: ln, Models: []string{"m"}})
	m := forwardManager(t, &helper.Local{Dir: t.TempDir()}, nil)
	ctx := context.Background()
	hp, err := m.Acquire(ctx, "job-local", helper.Need{ModelServer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Release(ctx)
	fw, err := hp.Forward(ctx, ln.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	if got := listModels(t, "http://"+fw.Addr()); !slices.Equal(got, []string{"m"}) {
		t.Fatalf("models: %v", got)
	}
	if peers := ln.Peers(); len(peers) != 1 || peers[0] != "self" {
		t.Fatalf("peers %v: want this process", peers)
	}
	if _, err := hp.Forward(ctx, 0); err == nil || !strings.Contains(err.Error(), "1-65535") {
		t.Fatalf("port 0: %v", err)
	}
}
