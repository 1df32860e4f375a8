package helperrun_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"github.com/patchgit/patchgit/internal/helperrun"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// BenchmarkVerify compares one verify (apply a one-line diff, run one
// check) in the local sandbox with the same verify through the runner on
// a helper reached over a real loopback sshd, whose patchgit is already
// the right build (the per-job cost: bundle, probe, two uploads, a process
// start, unbundle, verify, JSON back). Report the ratio of the two:
//
//	go test -run '^$' -bench Verify -benchtime 20x ./internal/helperrun/
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	mirror, base := mirrorRepoTB(b)
	g := gitops.New()
	req := sandbox.Request{MirrorDir: mirror, Base: base, Diff: []byte("--- a/greet.txt\n+++ b/greet.txt\n@@ -1 +1 @@\n-hello\n+hi\n"),
		Checks: []string{"grep -q '^h' greet.txt"}, CheckTimeout: time.Minute}

	b.Run("local", func(b *testing.B) {
		sb, err := sandbox.New(filepath.Join(b.TempDir(), "sandbox"), g)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if res, err := sb.Verify(ctx, req); err != nil || res.Failure != "" {
				b.Fatal(err, res.Failure)
			}
		}
	})
	b.Run("helper-ssh", func(b *testing.B) {
		hk, err := helper.NewHostKey()
		if err != nil {
			b.Fatal(err)
		}
		signer := helpertest.ClientKey(b)
		port := helpertest.FreePort(b)
		helpertest.BootSSHD(b, b.TempDir(), port, hk.PrivatePEM, helpertest.AuthorizedKey(signer))
		prov := &helper.SSHHost{Target: helper.SSHTarget{Address: "127.0.0.1", Port: port, User: helpertest.CurrentUser(b),
			Signer: signer, HostKey: hk.Public, Dir: filepath.Join(b.TempDir(), "helper-work")}}
		conn, err := prov.Connect(ctx, helper.Machine{Address: "127.0.0.1"}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		runner := &helperrun.Runner{Binary: binary, Git: g}
		once := func() {
			prep, err := runner.Prepare(ctx, "demo", mirror, req)
			if err != nil {
				b.Fatal(err)
			}
			defer prep.Close()
			if res, err := prep.Run(ctx, conn); err != nil || res.Failure != "" {
				b.Fatal(err, res.Failure)
			}
		}
		once() // the first run uploads the binary; the loop measures the rest
		for b.Loop() {
			once()
		}
	})
}
