package helper_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/patchgit/patchgit/internal/assist/providertest"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
)

// BenchmarkForward is what a model call pays for reaching the server on
// the helper, as core does per call: open a tunnel, one request on a new
// connection through its client, close it. "direct" is the same request to
// the server's own port (the baseline), "local" the local provider's
// tunnel (a direct dial), "ssh" a direct-tcpip channel through a droplet's
// real sshd over loopback. Compare ns/op in one run:
// go test -run '^$' -bench Forward -benchtime 200x ./internal/helper/
func BenchmarkForward(b *testing.B) {
	// A plain listener: the tests' PeerListener reads /proc per connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	providertest.NewOpenAIWith(b, providertest.Config{Listener: ln, Models: []string{"m"}})
	ctx := context.Background()
	get := func(b *testing.B, c *http.Client, url string) {
		res, err := c.Get(url + "/v1/models")
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
	}
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			get(b, &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, "http://"+ln.Addr().String())
		}
	})
	through := func(b *testing.B, p helper.Provider) {
		m := tunnelManager(b, p, nil)
		hp, err := m.Acquire(ctx, "bench", helper.Need{ModelServer: true})
		if err != nil {
			b.Fatal(err)
		}
		defer hp.Release(ctx)
		for b.Loop() {
			tun, err := hp.Tunnel(port)
			if err != nil {
				b.Fatal(err)
			}
			get(b, tun.HTTPClient(), tun.URL(""))
			tun.Close()
		}
	}
	b.Run("local", func(b *testing.B) { through(b, &helper.Local{Dir: b.TempDir()}) })
	b.Run("ssh", func(b *testing.B) {
		h := helpertest.NewDOHarness(b)
		through(b, h.Provider(filepath.Join(b.TempDir(), "work")))
	})
}
