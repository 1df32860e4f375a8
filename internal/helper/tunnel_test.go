package helper_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/assist/providertest"
	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"github.com/patchgit/patchgit/internal/store"
)

func tunnelManager(t testing.TB, p helper.Provider, ms *helper.ModelServer) *helper.Manager {
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

// listModels asks GET /v1/models at base through client and returns the
// ids.
func listModels(t *testing.T, client *http.Client, base string) []string {
	t.Helper()
	res, err := client.Get(base + "/v1/models")
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
// tunnel, and every connection it accepts was made by sshd, never by this
// process. The tunnel ends with Close and with the helper.
func TestTunnelThroughSSHReachesTheHelpersLoopbackOnly(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	ln, err := helpertest.NewPeerListener()
	if err != nil {
		t.Fatal(err)
	}
	providertest.NewOpenAIWith(t, providertest.Config{Listener: ln, Models: []string{"qwen2.5-coder:7b"}})
	setup := helper.OllamaSetup(ln.Port(), "qwen2.5-coder:7b")
	m := tunnelManager(t, h.Provider(filepath.Join(t.TempDir(), "work")), &setup)
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

	tun, err := hp.Tunnel(ln.Port())
	if err != nil {
		t.Fatal(err)
	}
	if want := "127.0.0.1:" + strconv.Itoa(ln.Port()); tun.Target() != want {
		t.Fatalf("target %s, want %s", tun.Target(), want)
	}
	client := tun.HTTPClient()
	for range 3 { // new connections each time
		if got := listModels(t, client, tun.URL("")); !slices.Equal(got, []string{"qwen2.5-coder:7b"}) {
			t.Fatalf("models through the tunnel: %v", got)
		}
		client.CloseIdleConnections()
	}
	peers := ln.Peers()
	if len(peers) != 3 {
		t.Fatalf("the server accepted %d connections (%v), want 3", len(peers), peers)
	}
	for _, p := range peers {
		if !strings.HasPrefix(p, "sshd") {
			t.Fatalf("the model server was dialed by %q (all: %v): want sshd only", p, peers)
		}
	}
	// The tunnel reaches only its target: another host is refused, not sent.
	if _, err := client.Get("http://203.0.113.5:80/v1/models"); !errors.Is(err, helper.ErrBadConfig) || !strings.Contains(err.Error(), "reaches only") {
		t.Fatalf("a request for another host: %v", err)
	}
	tun.Close()
	if _, err := client.Get(tun.URL("/v1/models")); !errors.Is(err, helper.ErrTunnelClosed) {
		t.Fatalf("after Close: %v", err)
	}

	// The tunnel dies with the helper, also a connection it keeps open.
	tun2, err := hp.Tunnel(ln.Port())
	if err != nil {
		t.Fatal(err)
	}
	open, err := tun2.DialContext(ctx, "tcp", tun2.Target())
	if err != nil {
		t.Fatal(err)
	}
	if err := hp.Release(ctx); err != nil {
		t.Fatal(err)
	}
	open.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection outlived its helper: read %v", err)
	}
	if _, err := tun2.HTTPClient().Get(tun2.URL("/v1/models")); err == nil {
		t.Fatal("the tunnel answers after its helper was released")
	}
	if _, err := hp.Tunnel(ln.Port()); err == nil {
		t.Fatal("a tunnel opened on a released helper")
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

// ownListeners is the set of listening TCP sockets (IPv4 and IPv6) this
// process holds, by inode: /proc/net/tcp{,6} rows in state 0A (LISTEN)
// whose inode is one of /proc/self/fd's sockets. Other processes' sockets
// (sshd's, other tests on the machine) are not counted.
func ownListeners(t *testing.T) map[string]bool {
	t.Helper()
	mine := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			mine[strings.TrimSuffix(inode, "]")] = true
		}
	}
	out := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		raw, err := os.ReadFile(table)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && mine[f[9]] {
				out[f[1]+" inode "+f[9]] = true
			}
		}
	}
	return out
}

// newListeners is what after holds and before did not.
func newListeners(before, after map[string]bool) []string {
	var added []string
	for l := range after {
		if !before[l] {
			added = append(added, l)
		}
	}
	return added
}

// While a model call runs through the tunnel (the OpenAI SDK, as the helper
// tier makes it), this process listens on no socket it did not listen on
// before: no other process on the control plane can reach the model server
// through it. The check itself is first shown to see a new listener.
func TestTunnelCallOpensNoListener(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	ln, err := helpertest.NewPeerListener()
	if err != nil {
		t.Fatal(err)
	}
	inCall, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		inCall <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	m := tunnelManager(t, h.Provider(filepath.Join(t.TempDir(), "work")), nil)
	ctx := context.Background()
	hp, err := m.Acquire(ctx, "job-call", helper.Need{ModelServer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Release(ctx)

	before := ownListeners(t)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if added := newListeners(before, ownListeners(t)); len(added) != 1 {
		t.Fatalf("the check saw %v for one new listener", added)
	}
	probe.Close()

	p, err := provider.New(provider.Options{Name: "ollama", Kind: provider.KindOpenAI, BaseURL: "http://ollama.invalid:11434/v1", Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tun, err := hp.Tunnel(ln.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	via, err := provider.Via(p, tun.Target(), tun.HTTPClient())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		res, err := via.Complete(ctx, provider.Request{Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: "x"}}}, nil)
		if err == nil && res.Text != "hi" {
			err = fmt.Errorf("answer %q", res.Text)
		}
		done <- err
	}()
	select {
	case <-inCall:
	case err := <-done:
		t.Fatalf("the call ended before the server had it: %v", err)
	}
	added := newListeners(before, ownListeners(t))
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(added) != 0 {
		t.Fatalf("during the call this process listened on %v", added)
	}
	if peers := ln.Peers(); len(peers) != 1 || !strings.HasPrefix(peers[0], "sshd") {
		t.Fatalf("the model server was dialed by %v: want sshd once", peers)
	}
}

// The local provider's tunnel dials this machine's loopback directly: the
// server's peer is this process.
func TestTunnelOnLocalProviderDialsLoopbackDirectly(t *testing.T) {
	ln, err := helpertest.NewPeerListener()
	if err != nil {
		t.Fatal(err)
	}
	providertest.NewOpenAIWith(t, providertest.Config{Listener: ln, Models: []string{"m"}})
	m := tunnelManager(t, &helper.Local{Dir: t.TempDir()}, nil)
	ctx := context.Background()
	hp, err := m.Acquire(ctx, "job-local", helper.Need{ModelServer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Release(ctx)
	tun, err := hp.Tunnel(ln.Port())
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	if got := listModels(t, tun.HTTPClient(), tun.URL("")); !slices.Equal(got, []string{"m"}) {
		t.Fatalf("models: %v", got)
	}
	if peers := ln.Peers(); len(peers) != 1 || peers[0] != "self" {
		t.Fatalf("peers %v: want this process", peers)
	}
	if _, err := hp.Tunnel(0); err == nil || !strings.Contains(err.Error(), "1-65535") {
		t.Fatalf("port 0: %v", err)
	}
}
