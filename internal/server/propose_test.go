package server

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/core"
)

const samplePatch = `--- a/greet.go
+++ b/greet.go
@@ -1,3 +1,3 @@
 package main
 
-const greeting = "helo"
+const greeting = "hello"
`

func TestProposeNoWaitPrintsIDAndState(t *testing.T) {
	ts := startServer(t, nil)
	res := run(t, ts.dial(t, "alice"), "propose --repo demo --no-wait", []byte(samplePatch))
	if res.code != 0 || res.stdout != "proposal p1 draft\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", res.code, res.stdout, res.stderr, "proposal p1 draft\n")
	}
	calls := ts.svc.proposeCalls()
	if len(calls) != 1 || calls[0] != (proposeCall{"alice", "demo", samplePatch}) {
		t.Errorf("Propose calls %+v, want one by alice on demo with the patch", calls)
	}
}

func TestProposeWaitsUntilProposed(t *testing.T) {
	ts := startServer(t, nil)
	ts.svc.afterPropose = func(f *fakeService, id string) {
		// Noise first: another proposal's news must not end the wait.
		f.update(id, func(*core.Proposal, *core.Job) {}, core.Event{Kind: core.EventProposal, ID: "other"})
		f.update(id, func(p *core.Proposal, j *core.Job) { j.State = core.JobRunning },
			core.Event{Kind: core.EventJob, ID: "j1", ProposalID: id})
		f.update(id, func(p *core.Proposal, j *core.Job) {
			p.State = core.StateProposed
			p.Revisions = []core.Revision{{N: 1, Verified: false, Checks: []core.CheckResult{
				{Command: "go build ./...", Passed: true},
				{Command: "go test ./...", ExitCode: 1},
				{Command: "go vet ./...", TimedOut: true, ExitCode: -1},
			}}}
			j.State = core.JobDone
		}, core.Event{Kind: core.EventProposal, ID: id})
	}
	res := run(t, ts.dial(t, "alice"), "propose --repo demo", []byte(samplePatch))
	want := "proposal p1 proposed\n" +
		"checks: 1 of 3 passed\n" +
		"  ok    go build ./...\n" +
		"  FAIL  go test ./... (exit 1)\n" +
		"  FAIL  go vet ./... (timed out)\n"
	if res.code != 0 || res.stdout != want {
		t.Errorf("exit %d, stdout:\n%s\nstderr %q\nwant exit 0 and:\n%s", res.code, res.stdout, res.stderr, want)
	}
}

func TestProposeStaysDraftWithReason(t *testing.T) {
	ts := startServer(t, nil)
	ts.svc.afterPropose = func(f *fakeService, id string) {
		f.update(id, func(p *core.Proposal, j *core.Job) {
			p.Reason = "the patch does not apply: greet.go line 3 differs"
			j.State = core.JobDone
		}, core.Event{Kind: core.EventProposal, ID: id})
	}
	res := run(t, ts.dial(t, "alice"), "propose --repo demo", []byte(samplePatch))
	want := "proposal p1 draft\nreason: the patch does not apply: greet.go line 3 differs\n"
	if res.code != 2 || res.stdout != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and %q", res.code, res.stdout, res.stderr, want)
	}
}

func TestProposeEndsWhenDraftJobFinishes(t *testing.T) {
	ts := startServer(t, nil)
	ts.svc.afterPropose = func(f *fakeService, id string) {
		f.update(id, func(_ *core.Proposal, j *core.Job) { j.State = core.JobFailed },
			core.Event{Kind: core.EventJob, ID: "j1", ProposalID: id})
	}
	res := run(t, ts.dial(t, "alice"), "propose --repo=demo", []byte(samplePatch))
	if res.code != 2 || res.stdout != "proposal p1 draft\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and the draft line", res.code, res.stdout, res.stderr)
	}
}

func TestProposeRefusesOversizeStdin(t *testing.T) {
	ts := startServer(t, func(o *Options) { o.MaxStdinBytes = 4096 })
	big := bytes.Repeat([]byte("+x\n"), 64<<10)
	res := run(t, ts.dial(t, "alice"), "propose --repo demo", big)
	if res.code != 1 || !strings.Contains(res.stderr, core.ErrInputTooLarge.Error()) ||
		!strings.Contains(res.stderr, "4 KiB") {
		t.Errorf("exit %d, stderr %q; want 1 and a message naming the 4 KiB limit", res.code, res.stderr)
	}
	if calls := ts.svc.proposeCalls(); len(calls) != 0 {
		t.Errorf("Propose called with an oversize patch: %d calls", len(calls))
	}
	// Exactly the limit is fine.
	exact := append(bytes.Repeat([]byte("x"), 4095), '\n')
	if res := run(t, ts.dial(t, "alice"), "propose --repo demo --no-wait", exact); res.code != 0 {
		t.Errorf("a patch of exactly the limit: exit %d, stderr %q", res.code, res.stderr)
	}
}

func TestProposeBadInput(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, "alice")
	for _, tc := range []struct {
		name, cmd, stdin, want string
	}{
		{"no repo", "propose", samplePatch, "--repo is required"},
		{"unknown flag", "propose --repo demo --force", samplePatch, "flag provided but not defined"},
		{"stray argument", "propose --repo demo fix.diff", samplePatch, `unexpected argument "fix.diff"`},
		{"empty stdin", "propose --repo demo", " \n", "empty input"},
		{"unknown repo", "propose --repo nope", samplePatch, "known repositories: demo, tools"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, c, tc.cmd, []byte(tc.stdin))
			if res.code != 1 || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", res.code, res.stderr, tc.want)
			}
		})
	}
	if calls := ts.svc.proposeCalls(); len(calls) != 0 {
		t.Errorf("Propose called %d times for bad input", len(calls))
	}
}

// Shutdown ends a waiting propose with a clear message instead of holding
// the shutdown until its deadline.
func TestShutdownEndsWaitingPropose(t *testing.T) {
	ts := startServer(t, nil) // afterPropose unset: drafting never ends
	sess, err := ts.dial(t, "alice").NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	sess.Stdin = strings.NewReader(samplePatch)
	if err := sess.Start("propose --repo demo"); err != nil {
		t.Fatal(err)
	}
	<-ts.svc.proposed

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if code := exitCode(t, sess.Wait()); code != 1 {
		t.Errorf("waiting propose ended with exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "shutting down") || !strings.Contains(errOut.String(), "proposal p1 is still draft") {
		t.Errorf("stderr %q does not say the server is shutting down and where the proposal is", errOut.String())
	}
	if err := <-ts.served; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}
