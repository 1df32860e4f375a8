package core_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
)

// demoOperations are the demo repository's operations in these tests.
var demoOperations = map[string]string{
	"fmt":   "gofmt -w .",
	"noop":  "true",
	"fail":  "echo 'gofmt: cannot parse' >&2; exit 2",
	"many":  "for i in $(seq 1 60); do echo $i > f$i.txt; done", // over the 50-file limit
	"greet": "sed -i 's/Hello, /Hi, /' greet.go",
}

func newOperationEnv(t *testing.T) *env {
	return newEnv(t, func(o *core.Options) { o.Repos[0].Operations = demoOperations })
}

// lastMessage is the conversation's last message.
func lastMessage(t *testing.T, e *env, cv core.Conversation) core.Message {
	t.Helper()
	msgs, err := e.core.Messages(ctx, cv.ID)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("messages: %v %v", msgs, err)
	}
	return msgs[len(msgs)-1]
}

// `/run fmt` on a base with an unformatted file: the operation runs in the
// real sandbox, the diff is what gofmt wrote, the checks (gofmt -l among
// them, which fails on the base) pass on that tree, and GO publishes it.
func TestOperationIsProposedAndPublishedOnGO(t *testing.T) {
	e := newOperationEnv(t)
	pushToMain(t, e.bare, func(dir string) {
		writeFile(t, filepath.Join(dir, "messy.go"), "package greet\n\nfunc  Messy( ) int {\nreturn 1\n}\n")
	})
	cv := startConversation(t, e)
	p := sendAndSettle(t, e, cv, "/run fmt")
	rev := p.Current()
	if p.State != core.StateProposed {
		t.Fatalf("state = %s (reason %q)", p.State, p.Reason)
	}
	if rev.Source != core.SourceOperation || rev.Operation == nil || rev.Operation.Name != "fmt" ||
		rev.Operation.Command != "gofmt -w ." || !rev.Operation.Passed || rev.Operation.Mode == "" {
		t.Fatalf("revision: source %q, operation %+v", rev.Source, rev.Operation)
	}
	if !slices.Equal(rev.Targets, []string{"messy.go"}) || !strings.Contains(rev.Diff, "+func Messy() int {") {
		t.Fatalf("targets %v diff %s", rev.Targets, rev.Diff)
	}
	if !rev.Verified || len(rev.Checks) != 2 || !rev.Checks[0].Passed {
		t.Fatalf("checks: %+v", rev.Checks)
	}
	if !strings.Contains(strings.Join(rev.Plan, "\n"), "Run the repository operation fmt (`gofmt -w .`) in the sandbox") {
		t.Errorf("plan does not show the command: %q", rev.Plan)
	}
	if rev.Confidence == nil || !slices.ContainsFunc(rev.Confidence.Factors, func(r string) bool { return strings.Contains(r, "operation") }) {
		t.Errorf("confidence: %+v", rev.Confidence)
	}
	if !strings.HasPrefix(p.Title, "Run fmt: gofmt -w .") {
		t.Errorf("title %q", p.Title)
	}
	if _, err := e.core.Go(ctx, "alice", p.ID, rev.N); err != nil {
		t.Fatal(err)
	}
	p = e.waitProposal(p.ID, func(p core.Proposal) bool { return p.State == core.StatePublished || p.State == core.StateFailed })
	if p.State != core.StatePublished || p.PR == nil {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	if got := git(t, e.bare, "diff", "main", p.Branch); got+"\n" != rev.Diff {
		t.Fatalf("branch diff:\n%s\nwant:\n%s", got, rev.Diff)
	}
	if out := git(t, e.bare, "show", p.Branch+":messy.go"); !strings.Contains(out, "func Messy() int {\n\treturn 1") {
		t.Fatalf("published messy.go:\n%s", out)
	}
}

// `/run` alone lists the operations; an unknown name or extra words are
// answered with what to do; none of them makes a proposal.
func TestRunListsAndRefusesWithoutAProposal(t *testing.T) {
	e := newOperationEnv(t)
	cv := startConversation(t, e)
	for _, tc := range []struct{ text, want string }{
		{"/run", "Operations of demo (`/run NAME` runs one in the sandbox and proposes what it changes):\n  fail: echo"},
		{"/run", "\n  fmt: gofmt -w .\n"},
		{"/run nope", `demo has no operation "nope"; known: fail, fmt, greet, many, noop. ` + "`/run` alone lists them."},
		{"/run fmt now please", "`/run` takes one operation name and no arguments"},
	} {
		m, err := e.core.Send(ctx, "alice", cv.ID, tc.text)
		if err != nil {
			t.Fatal(err)
		}
		if m.ProposalID != "" {
			t.Fatalf("%q made a proposal", tc.text)
		}
		if got := lastMessage(t, e, cv); got.Role == core.RoleUser || !strings.Contains(got.Text, tc.want) {
			t.Errorf("%q answered %q, want it to contain %q", tc.text, got.Text, tc.want)
		}
	}
	if ps, _ := e.core.Proposals(ctx, "demo", ""); len(ps) != 0 {
		t.Fatalf("proposals: %+v", ps)
	}
	// A repository without operations says how to add one.
	plain := newEnv(t)
	cv = startConversation(t, plain)
	if _, err := plain.core.Send(ctx, "alice", cv.ID, "/run"); err != nil {
		t.Fatal(err)
	}
	if got := lastMessage(t, plain, cv); !strings.Contains(got.Text, "demo has no repository operations") || !strings.Contains(got.Text, "operations:\n      fmt: gofmt -w .") {
		t.Errorf("no operations: %q", got.Text)
	}
}

// An operation that changes nothing, fails, or changes too much leaves the
// proposal in Draft with the reason (and a failure's output), nothing pushed.
func TestOperationThatDoesNotVerifyStaysDraft(t *testing.T) {
	e := newOperationEnv(t)
	for _, tc := range []struct{ name, want string }{
		{"noop", "the operation changed nothing"},
		{"fail", "operation \"echo 'gofmt: cannot parse' >&2; exit 2\" failed (exit code 2); its output ends:\ngofmt: cannot parse"},
		{"many", "the operation's change was refused: patch refused (files)"},
	} {
		cv := startConversation(t, e)
		p := sendAndSettle(t, e, cv, "/run "+tc.name)
		if p.State != core.StateDraft || !strings.Contains(p.Reason, tc.want) {
			t.Errorf("%s: state %s reason %q, want Draft with %q", tc.name, p.State, p.Reason, tc.want)
		}
		if rev := p.Current(); rev.Source != core.SourceOperation || rev.Operation == nil || rev.Verified {
			t.Errorf("%s: revision %+v", tc.name, rev)
		}
		if got := lastMessage(t, e, cv); !strings.Contains(got.Text, "stays in Draft: "+tc.want) {
			t.Errorf("%s: said %q", tc.name, got.Text)
		}
	}
	if got := branches(t, e.bare); !slices.Equal(got, []string{"main"}) {
		t.Fatalf("pushed: %v", got)
	}
	// A later `/run` in the same conversation is a new revision of the same proposal.
	cv := startConversation(t, e)
	first := sendAndSettle(t, e, cv, "/run noop")
	second := sendAndSettle(t, e, cv, "/run greet")
	if second.ID != first.ID || len(second.Revisions) != 2 || second.State != core.StateProposed ||
		!strings.Contains(second.Current().Diff, `+	return "Hi, " + name + "!"`) {
		t.Fatalf("second revision: state %s reason %q revisions %d", second.State, second.Reason, len(second.Revisions))
	}
}

// A repository whose checks need a helper runs its operation there: the
// DigitalOcean provider through godo against the fake API, the droplet a
// real sshd; core has no local sandbox at all (withHelpers), so the
// operation, the diff and the checks can only have run on the droplet.
func TestOperationOnDigitalOceanHelper(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	remoteDir := filepath.Join(t.TempDir(), "helper-work")
	helpers := withHelpers(t, core.HelperNeed{MemoryMB: 2048}, func(*env) helper.Provider { return h.Provider(remoteDir) })
	e := newEnvWith(t, func(e *env, o *core.Options) {
		helpers(e, o)
		o.Repos[0].Operations = demoOperations
	})
	cv := startConversation(t, e)
	p := sendAndSettle(t, e, cv, "/run greet")
	if p.State != core.StateProposed {
		t.Fatalf("state %s (reason %q), want proposed", p.State, p.Reason)
	}
	rev := p.Current()
	if rev.Operation == nil || rev.Operation.Command != demoOperations["greet"] || !rev.Operation.Passed ||
		!strings.Contains(rev.Diff, `+	return "Hi, " + name + "!"`) || len(rev.Checks) != 2 {
		t.Fatalf("revision: operation %+v checks %+v diff %s", rev.Operation, rev.Checks, rev.Diff)
	}
	if n := h.Fake.Count("POST /v2/droplets"); n != 1 {
		t.Fatalf("%d droplet creates, want 1", n)
	}
	if alive := h.Fake.Alive(); len(alive) != 0 {
		t.Fatalf("droplets left: %+v", alive)
	}
	if _, err := os.Stat(filepath.Join(remoteDir, "patchgit")); err != nil {
		t.Fatalf("nothing ran on the helper: %v", err)
	}
	// A failing operation on the helper: Draft with its output.
	p = sendAndSettle(t, e, cv, "/run fail")
	if p.State != core.StateDraft || !strings.Contains(p.Reason, "failed (exit code 2); its output ends:\ngofmt: cannot parse") {
		t.Fatalf("failing operation: state %s reason %q", p.State, p.Reason)
	}
	if n := h.Fake.Count("POST /v2/droplets"); n != 2 || len(h.Fake.Alive()) != 0 {
		t.Fatalf("%d creates, alive %+v", n, h.Fake.Alive())
	}
}
