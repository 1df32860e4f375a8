package assess

import (
	"fmt"
	"strings"
)

// Weight is one factor of a score: how many points it adds when it applies.
// A factor counted per file adds Points per file up to Max (Max 0: once).
type Weight struct {
	Score  string // Risk or Confidence
	Key    string
	Points int
	Max    int
	Rule   string // when it applies, as docs/assistant.md says
}

// The two scores a Weight belongs to.
const (
	ForRisk       = "risk"
	ForConfidence = "confidence"
)

// Weights is every number the scores use, in one place; docs/assistant.md
// shows the same table (a test keeps them equal). Why these numbers:
//   - Risk is what could go wrong once the change is merged. What the sandbox
//     cannot see weighs most: CI config and auth code run with secrets or
//     guard the door (15), a change the checks did not confirm (20-25), and
//     what is hard to undo or review: migrations, dependency bumps and binary
//     blobs (10), deleted files (5 each). Size adds slowly (a big change is
//     not wrong, only harder to review) and is capped so it cannot drown the
//     rest.
//   - Confidence is how sure we are that the change does what was asked. The
//     checks passing is the strongest evidence (40); a change that applied
//     cleanly earns a base (20); a change a person wrote is its own plan (25),
//     where a model's change earns its 25 from the plan and diff agreeing (15)
//     and its own assessment (-10..+10). A repository operation (a command
//     the operator configured, run by `/run NAME`) earns the person's 25: it
//     does exactly what was asked, deterministically; its reach (often many
//     files) is priced by the size factors of risk, not by a factor of its own.
//     A failed check costs 30 on top of
//     the 40 not earned, which puts any such change under LowConfidenceBelow;
//     unisolated checks are worth less than isolated ones.
//
// LowConfidenceBelow: a model's change whose checks pass and whose plan
// agrees scores 80; it falls under 60 when its checks failed, timed out or
// did not run, or when its plan missed or overshot two files or more.
var Weights = []Weight{
	{ForRisk, "files", 2, 10, "per file touched beyond the first"},
	{ForRisk, "lines", 1, 20, "per 25 lines changed (added + deleted), rounded up"},
	{ForRisk, "ci", 15, 0, "touches CI or check config (`.github/workflows/`, `.gitlab-ci.yml`, `.circleci/`, `Jenkinsfile`, `.patchgit.yaml`, ...)"},
	{ForRisk, "auth", 15, 0, "touches auth or security code (a path word such as auth, login, password, token, session, crypto, secret, permission, pin)"},
	{ForRisk, "migration", 10, 0, "touches database migrations (a `migrations/` or `migrate/` directory, `*.sql`)"},
	{ForRisk, "deps", 10, 0, "touches dependency manifests or lock files (`go.mod`, `go.sum`, `package.json`, lock files, `requirements*.txt`, `Cargo.toml`, ...)"},
	{ForRisk, "deleted", 5, 15, "per deleted file"},
	{ForRisk, "binary", 10, 0, "changes binary files (not reviewable in the diff)"},
	{ForRisk, "touches-checks", 10, 0, "changes other files the checks depend on (tests, build files): the change can weaken its own verification"},
	{ForRisk, "no-checks", 15, 0, "no checks ran: only that the change applies was verified"},
	{ForRisk, "check-failed", 25, 0, "a check failed"},
	{ForRisk, "check-timed-out", 20, 0, "a check timed out: its verdict is unknown"},
	{ForRisk, "not-verified", 25, 0, "verification stopped before the checks finished (a prepare step failed, say)"},
	{ForRisk, "diff-unreadable", 40, 0, "the stored diff cannot be read: nothing else about it can be assessed"},
	{ForRisk, "not-applied", 100, 0, "the change did not apply in the sandbox (the only factor then)"},

	{ForConfidence, "applied", 20, 0, "the change applied cleanly in the sandbox and the diff shown was computed from the result"},
	{ForConfidence, "checks-passed", 40, 0, "every check ran and passed"},
	{ForConfidence, "no-checks", -10, 0, "no checks ran"},
	{ForConfidence, "check-failed", -30, 0, "a check failed"},
	{ForConfidence, "check-timed-out", -20, 0, "a check timed out"},
	{ForConfidence, "not-verified", -20, 0, "verification stopped before the checks finished"},
	{ForConfidence, "isolated", 5, 0, "the checks ran isolated (bwrap or namespaces)"},
	{ForConfidence, "unisolated", -10, 0, "the checks ran unisolated (plain): the host can sway their result"},
	{ForConfidence, "isolation-other", 0, 0, "the checks ran in another mode (a remote runner, say): no points either way"},
	{ForConfidence, "person", 25, 0, "a person wrote the change (pasted diff or search/replace blocks): it is its own plan"},
	{ForConfidence, "operation", 25, 0, "a repository operation the operator configured made the change (`/run NAME`): the command is its own plan, and the diff is exactly what it wrote"},
	{ForConfidence, "plan-agrees", 15, 0, "a model's change touches exactly the plan's target files"},
	{ForConfidence, "plan-missed", -5, -15, "per planned target file the model's diff does not touch"},
	{ForConfidence, "plan-extra", -5, -15, "per file the model's diff touches that the plan did not name"},
	{ForConfidence, "model-self", 1, 10, "per 5 points the model's own assessment A (0..100) lies above 50, minus below: (A-50)/5, from -10 to +10"},
	{ForConfidence, "source-unknown", 0, 0, "the change's source is neither a person, a model nor an operation: no points either way"},
	{ForConfidence, "not-applied", 0, 0, "the change did not apply in the sandbox (the only factor then)"},
}

// LowConfidenceBelow: a confidence under this asks for a better plan (the
// chain's escalation to the next tier).
const LowConfidenceBelow = 60

// weight returns the points of a factor; an unknown key is a bug that the
// table test catches, so it panics.
func weight(score, key string) Weight {
	for _, w := range Weights {
		if w.Score == score && w.Key == key {
			return w
		}
	}
	panic(fmt.Sprintf("assess: no weight %s/%s", score, key))
}

// perFile is n times the factor's points, capped at its Max (a floor for
// a negative factor).
func perFile(w Weight, n int) int {
	p := w.Points * n
	switch {
	case w.Max > 0:
		return min(p, w.Max)
	case w.Max < 0:
		return max(p, w.Max)
	}
	return p
}

// docRow is w as a row of docs/assistant.md's factor table.
func docRow(w Weight) string {
	limit := ""
	switch {
	case w.Max > 0:
		limit = fmt.Sprintf("at most %+d", w.Max)
	case w.Max < 0:
		limit = fmt.Sprintf("at least %+d", w.Max)
	}
	return fmt.Sprintf("| %s | `%s` | %+d | %s | %s |", w.Score, w.Key, w.Points, limit, w.Rule)
}

// docTable is the whole factor table for docs/assistant.md.
func docTable() string {
	rows := []string{"| score | factor | points | limit | when |", "|---|---|---|---|---|"}
	for _, w := range Weights {
		rows = append(rows, docRow(w))
	}
	return strings.Join(rows, "\n")
}
