// Package assess computes a proposal's risk and confidence scores from
// explainable factors. Both are pure functions of stored inputs (the
// revision's diff, checks, targets and source), so anyone can recompute a
// stored score and get the same answer. Every factor adds the points of
// one row of Weights and writes a reason line that starts with them
// ("+15 touches CI config: .github/workflows/ci.yml"); the value is their
// sum clamped to 0..100, and a clamp adds its own line, so the lines always
// add up to the value shown.
package assess

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
)

// Score is a computed 0..100 value with the reason lines that sum to it.
type Score struct {
	Value   int      `json:"value"`
	Factors []string `json:"factors"`
}

// Where a change came from (core's Revision.Source).
const (
	SourcePastedDiff    = "pasted-diff"
	SourceSearchReplace = "search-replace"
	SourceModel         = "model"
	SourceOperation     = "operation" // a configured repository-wide operation (`/run NAME`)
)

// Isolation modes that count as isolated (sandbox.ModeBwrap and
// sandbox.ModeNamespaces; plain is not).
var isolatedModes = map[string]bool{"bwrap": true, "namespaces": true}

const modePlain = "plain"

// Input is everything the scores read: the stored revision's fields, so a
// stored score can be recomputed from the stored proposal.
type Input struct {
	Diff     string   // the canonical unified diff; "" when the change did not apply
	Source   string   // SourcePastedDiff, SourceSearchReplace, SourceModel or SourceOperation
	Targets  []string // the plan's target files
	Checks   []Check  // the checks that ran, in order (they stop at the first failure)
	Verified bool     // applied and every check passed
	// TouchesChecks lists the changed files the checks depend on, as the
	// sandbox reported them (sandbox.TouchesChecks).
	TouchesChecks []string
	// ModelConfidence is a model's own 0..100 assessment of its change;
	// nil when there is none (always for a person's change).
	ModelConfidence *int
}

// Check is one check's outcome.
type Check struct {
	Name     string
	Passed   bool
	TimedOut bool
	ExitCode int
	Mode     string // the isolation mode it ran under
}

// LowConfidence says a confidence score is too low to stand on its own:
// under LowConfidenceBelow the chain should propose the next tier (with
// the person's approval). A nil score (not computed) is not low: there is
// nothing to escalate on.
func LowConfidence(s *Score) bool {
	return s != nil && s.Value < LowConfidenceBelow
}

// Risk scores what could go wrong if the change were merged.
func Risk(in Input) Score { return total(riskFactors(in)) }

// Confidence scores how sure PatchGit is that the change does what was
// asked.
func Confidence(in Input) Score { return total(confidenceFactors(in)) }

// factor is one reason line before formatting.
type factor struct {
	key    string
	points int
	reason string
}

func (f factor) String() string { return fmt.Sprintf("%+d %s", f.points, f.reason) }

// tally collects the factors of one score.
type tally struct {
	score   string
	factors []factor
}

// add counts factor key once at its table weight.
func (t *tally) add(key, format string, args ...any) {
	t.addPoints(key, weight(t.score, key).Points, format, args...)
}

// addPoints counts factor key with points computed from its weight.
func (t *tally) addPoints(key string, points int, format string, args ...any) {
	weight(t.score, key) // the key must be in the table
	t.factors = append(t.factors, factor{key: key, points: points, reason: fmt.Sprintf(format, args...)})
}

// total sums the factors, biggest first, and clamps the sum to 0..100
// with a line of its own, so the lines add up to the value.
func total(factors []factor) Score {
	slices.SortStableFunc(factors, func(a, b factor) int { return cmp.Compare(abs(b.points), abs(a.points)) })
	sum := 0
	lines := make([]string, 0, len(factors)+1)
	for _, f := range factors {
		sum += f.points
		lines = append(lines, f.String())
	}
	if clamped := min(max(sum, 0), 100); clamped != sum {
		lines = append(lines, factor{points: clamped - sum, reason: "clamped: a score stays within 0..100"}.String())
		sum = clamped
	}
	return Score{Value: sum, Factors: lines}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func riskFactors(in Input) []factor {
	t := &tally{score: ForRisk}
	if in.Diff == "" {
		t.add("not-applied", "the change did not apply in the sandbox: nothing was verified or can be published")
		return t.factors
	}
	checkFactors(t, in)
	ch, err := readDiff(in.Diff)
	if err != nil {
		t.add("diff-unreadable", "the diff cannot be read (%v)", err)
		return t.factors
	}
	pathFactor(t, "ci", ch.names, isCI, "touches CI or check config: %s")
	pathFactor(t, "auth", ch.names, isAuth, "touches auth or security code: %s")
	pathFactor(t, "migration", ch.names, isMigration, "touches database migrations: %s")
	pathFactor(t, "deps", ch.names, isDependency, "touches dependency manifests or lock files: %s")
	var others []string // counted above already: not twice
	for _, f := range in.TouchesChecks {
		if !isCI(f) && !isDependency(f) {
			others = append(others, f)
		}
	}
	if len(others) > 0 {
		t.add("touches-checks", "changes files the checks depend on: %s", listFiles(others))
	}
	if len(ch.deleted) > 0 {
		t.addPoints("deleted", perFile(weight(ForRisk, "deleted"), len(ch.deleted)), "deletes %s: %s",
			plural(len(ch.deleted), "file", "files"), listFiles(ch.deleted))
	}
	if len(ch.binary) > 0 {
		t.add("binary", "changes binary files, not reviewable in the diff: %s", listFiles(ch.binary))
	}
	t.addPoints("files", perFile(weight(ForRisk, "files"), max(len(ch.files)-1, 0)), "%s touched",
		plural(len(ch.files), "file", "files"))
	lines := ch.added + ch.removed
	t.addPoints("lines", perFile(weight(ForRisk, "lines"), int((lines+24)/25)), "%s changed (+%d -%d)",
		plural(int(lines), "line", "lines"), ch.added, ch.removed)
	return t.factors
}

// checkFactors adds the checks' verdict: for risk what the checks leave
// unconfirmed, for confidence what they confirm.
func checkFactors(t *tally, in Input) {
	for _, c := range in.Checks {
		switch {
		case c.TimedOut:
			t.add("check-timed-out", "check %q timed out: its verdict is unknown", c.Name)
			return
		case !c.Passed:
			t.add("check-failed", "check %q failed (exit code %d)", c.Name, c.ExitCode)
			return
		}
	}
	switch {
	case !in.Verified:
		t.add("not-verified", "verification stopped before the checks finished")
	case len(in.Checks) == 0:
		t.add("no-checks", "no checks ran: only that the change applies was verified")
	case t.score == ForConfidence:
		names := make([]string, len(in.Checks))
		for i, c := range in.Checks {
			names[i] = c.Name
		}
		t.add("checks-passed", "%s passed: %s", plural(len(in.Checks), "check", "checks"), strings.Join(names, ", "))
	}
}

// pathFactor adds factor key once when any name matches.
func pathFactor(t *tally, key string, names []string, match func(string) bool, format string) {
	var hits []string
	for _, n := range names {
		if match(n) {
			hits = append(hits, n)
		}
	}
	if len(hits) > 0 {
		t.add(key, format, listFiles(hits))
	}
}

func confidenceFactors(in Input) []factor {
	t := &tally{score: ForConfidence}
	if in.Diff == "" {
		t.add("not-applied", "the change did not apply in the sandbox")
		return t.factors
	}
	t.add("applied", "applied cleanly in the sandbox")
	checkFactors(t, in)
	if mode := isolation(in.Checks); mode != "" {
		switch {
		case isolatedModes[mode]:
			t.add("isolated", "the checks ran isolated (%s)", mode)
		case mode == modePlain:
			t.add("unisolated", "the checks ran unisolated (plain): the host can sway them")
		default:
			t.add("isolation-other", "the checks ran in mode %s", mode)
		}
	}
	switch in.Source {
	case SourcePastedDiff, SourceSearchReplace:
		t.add("person", "a person wrote the change (%s): it is its own plan", in.Source)
	case SourceOperation:
		t.add("operation", "a configured repository operation made the change: the command is its own plan")
	case SourceModel:
		planFactors(t, in)
		modelSelf(t, in.ModelConfidence)
	default:
		t.add("source-unknown", "the change's source %q is unknown", in.Source)
	}
	return t.factors
}

// isolation is the mode the checks ran under ("" when none ran).
func isolation(checks []Check) string {
	for _, c := range checks {
		if c.Mode != "" {
			return c.Mode
		}
	}
	return ""
}

// planFactors compares a model's plan (its target files) with the files
// its diff touches.
func planFactors(t *tally, in Input) {
	ch, err := readDiff(in.Diff)
	if err != nil {
		return // risk says so; nothing to compare
	}
	planned := make([]string, 0, len(in.Targets))
	for _, p := range in.Targets {
		if p = path.Clean(strings.TrimSpace(p)); p != "." && !slices.Contains(planned, p) {
			planned = append(planned, p)
		}
	}
	var missed, extra []string
	for _, p := range planned {
		if !slices.Contains(ch.files, p) {
			missed = append(missed, p)
		}
	}
	for _, f := range ch.files {
		if !slices.Contains(planned, f) {
			extra = append(extra, f)
		}
	}
	if len(missed) == 0 && len(extra) == 0 {
		t.add("plan-agrees", "the diff touches exactly the plan's %s", plural(len(planned), "target file", "target files"))
		return
	}
	if len(missed) > 0 {
		t.addPoints("plan-missed", perFile(weight(ForConfidence, "plan-missed"), len(missed)),
			"planned but not changed: %s", listFiles(missed))
	}
	if len(extra) > 0 {
		t.addPoints("plan-extra", perFile(weight(ForConfidence, "plan-extra"), len(extra)),
			"changed but not in the plan: %s", listFiles(extra))
	}
}

// modelSelf turns the model's own 0..100 assessment into -10..+10.
func modelSelf(t *tally, a *int) {
	if a == nil {
		return
	}
	if *a < 0 || *a > 100 {
		t.addPoints("model-self", 0, "the model's own assessment %d is outside 0..100: ignored", *a)
		return
	}
	w := weight(ForConfidence, "model-self")
	t.addPoints("model-self", min(max((*a-50)/5, -w.Max), w.Max), "the model rates its change %d/100", *a)
}

// change is what the scores read from a diff.
type change struct {
	files          []string // one path per file: the new name, the old one for a deletion
	names          []string // every path involved, rename sources too
	deleted        []string
	binary         []string
	added, removed int64
}

func readDiff(diff string) (change, error) {
	files, _, err := gitdiff.Parse(strings.NewReader(diff))
	if err != nil {
		return change{}, fmt.Errorf("read diff: %w", err)
	}
	var ch change
	for _, f := range files {
		name := f.NewName
		if f.IsDelete {
			name = f.OldName
			ch.deleted = append(ch.deleted, name)
		}
		ch.files = append(ch.files, name)
		ch.names = append(ch.names, name)
		if f.OldName != "" && f.OldName != name {
			ch.names = append(ch.names, f.OldName)
		}
		if f.IsBinary {
			ch.binary = append(ch.binary, name)
		}
		for _, frag := range f.TextFragments {
			ch.added += frag.LinesAdded
			ch.removed += frag.LinesDeleted
		}
	}
	return ch, nil
}
