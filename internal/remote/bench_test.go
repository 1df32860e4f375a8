package remote

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/patchgit/patchgit/internal/rpc"
)

// BenchmarkCallOverSSH is one Repos call from the remote client through
// the real SSH server's rpc channel on loopback (login done once).
func BenchmarkCallOverSSH(b *testing.B) {
	r := startRig(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.remote.Repos(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallOverUnixSocket is the baseline: the same call and protocol
// on a unix socket, as the local control socket carries it, so the ratio
// to BenchmarkCallOverSSH is what SSH (and the reconnecting client) add.
func BenchmarkCallOverUnixSocket(b *testing.B) {
	ln, err := net.Listen("unix", filepath.Join(b.TempDir(), "s"))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		if c, err := ln.Accept(); err == nil {
			rpc.Serve(ctx, c, &daemonService{}, nil, "bench")
		}
	}()
	cliConn, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	cl, err := rpc.NewClient(ctx, cliConn, "bench")
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	for b.Loop() {
		if _, err := cl.Repos(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
