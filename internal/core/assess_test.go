package core_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/assess"
	"github.com/patchgit/patchgit/internal/core"
)

func hasReason(s *core.Score, prefix string) bool {
	return s != nil && slices.ContainsFunc(s.Factors, func(f string) bool { return strings.HasPrefix(f, prefix) })
}

// A pasted diff that touches a CI workflow and go.mod is scored with those
// reasons, and the stored scores are recomputed, after a restart, from the
// stored proposal alone.
func TestPastedDiffIsScoredAndReproducible(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	diff := makeDiff(t, e.bare, func(dir string) {
		if err := os.MkdirAll(filepath.Join(dir, ".github", "workflows"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, ".github", "workflows", "x.yml"), "on: push\njobs: {}\n")
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "go.mod"), string(mod)+"\n// tidy\n")
	})
	p := sendAndSettle(t, e, cv, "CI and go.mod\n\n```diff\n"+diff+"```\n")
	if p.State != core.StateProposed {
		t.Fatalf("state %s (reason %q), want proposed", p.State, p.Reason)
	}
	rev := p.Current()
	for _, want := range []string{
		"+15 touches CI or check config: .github/workflows/x.yml",
		"+10 touches dependency manifests or lock files: go.mod",
	} {
		if !hasReason(rev.Risk, want) {
			t.Errorf("risk lacks %q: %+v", want, rev.Risk)
		}
	}
	// Both checks passed (format, BROKEN absent); 2 files, 4 lines.
	if rev.Risk.Value != 15+10+2+1 {
		t.Errorf("risk %d: %q", rev.Risk.Value, rev.Risk.Factors)
	}
	if !hasReason(rev.Confidence, "+40 2 checks passed") || !hasReason(rev.Confidence, "+25 a person wrote the change (pasted-diff)") {
		t.Errorf("confidence %+v", rev.Confidence)
	}
	if !slices.Equal(rev.TouchesChecks, []string{".github/workflows/x.yml", "go.mod"}) {
		t.Errorf("TouchesChecks = %v", rev.TouchesChecks)
	}

	// Restart: the proposal comes back from the store.
	e.close()
	e.open()
	stored, err := e.core.Proposal(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	srev := stored.Current()
	in := srev.AssessInput()
	if risk, conf := assess.Risk(in), assess.Confidence(in); !sameScore(&risk, srev.Risk) || !sameScore(&conf, srev.Confidence) {
		t.Errorf("recomputed risk %+v confidence %+v, stored %+v and %+v", risk, conf, srev.Risk, srev.Confidence)
	}
	if !sameScore(srev.Risk, rev.Risk) {
		t.Errorf("stored risk %+v differs from the one first shown %+v", srev.Risk, rev.Risk)
	}
}

func sameScore(a, b *core.Score) bool {
	return a != nil && b != nil && a.Value == b.Value && slices.Equal(a.Factors, b.Factors)
}

// A failing check lowers confidence and raises risk, with the check named;
// a change that does not apply is the riskiest and least sure.
func TestFailingCheckLowersConfidence(t *testing.T) {
	e := newEnv(t)
	cv := startConversation(t, e)
	good := sendAndSettle(t, e, cv, "notes\n\n```diff\n"+makeDiff(t, e.bare, addNotes(t, "# Notes\n"))+"```\n")
	cv2 := startConversation(t, e)
	bad := sendAndSettle(t, e, cv2, "broken\n\n```diff\n"+makeDiff(t, e.bare, func(dir string) {
		writeFile(t, filepath.Join(dir, "BROKEN"), "x\n")
	})+"```\n")
	g, b := good.Current(), bad.Current()
	if bad.State != core.StateDraft || b.Verified {
		t.Fatalf("broken change: state %s verified %v", bad.State, b.Verified)
	}
	if b.Confidence == nil || g.Confidence == nil || b.Confidence.Value >= g.Confidence.Value {
		t.Fatalf("failing check confidence %+v, passing %+v", b.Confidence, g.Confidence)
	}
	if !hasReason(b.Confidence, `-30 check "check 2" failed (exit code 1)`) || !hasReason(b.Risk, `+25 check "check 2" failed`) {
		t.Errorf("risk %+v confidence %+v", b.Risk, b.Confidence)
	}
	if !assess.LowConfidence(b.Confidence) || assess.LowConfidence(g.Confidence) {
		t.Errorf("LowConfidence: failing %d, passing %d", b.Confidence.Value, g.Confidence.Value)
	}

	cv3 := startConversation(t, e)
	stale := "```diff\ndiff --git a/greet.go b/greet.go\n--- a/greet.go\n+++ b/greet.go\n@@ -1 +1 @@\n-no such line\n+x\n```\n"
	p := sendAndSettle(t, e, cv3, stale)
	rev := p.Current()
	if rev.Risk == nil || rev.Risk.Value != 100 || rev.Confidence == nil || rev.Confidence.Value != 0 {
		t.Errorf("a change that did not apply: risk %+v confidence %+v (reason %q)", rev.Risk, rev.Confidence, p.Reason)
	}
}
