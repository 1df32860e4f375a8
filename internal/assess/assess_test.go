package assess

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// modify is a one-line change to name: 2 lines changed.
func modify(name string) string {
	return fmt.Sprintf("diff --git a/%[1]s b/%[1]s\nindex 1111111..2222222 100644\n--- a/%[1]s\n+++ b/%[1]s\n@@ -1 +1 @@\n-old\n+new\n", name)
}

// deleteFile deletes a two-line file: 2 lines changed.
func deleteFile(name string) string {
	return fmt.Sprintf("diff --git a/%[1]s b/%[1]s\ndeleted file mode 100644\nindex 1111111..0000000\n--- a/%[1]s\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-old\n-older\n", name)
}

func binaryFile(name string) string {
	return fmt.Sprintf("diff --git a/%[1]s b/%[1]s\nindex 1111111..2222222 100644\nBinary files a/%[1]s and b/%[1]s differ\n", name)
}

// grow adds n lines to name.
func grow(name string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "diff --git a/%[1]s b/%[1]s\nindex 1111111..2222222 100644\n--- a/%[1]s\n+++ b/%[1]s\n@@ -1 +1,%d @@\n old\n", name, n+1)
	for i := range n {
		fmt.Fprintf(&b, "+line %d\n", i)
	}
	return b.String()
}

func many(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(modify(fmt.Sprintf("f%d.go", i)))
	}
	return b.String()
}

var passed = []Check{{Name: "format", Passed: true, Mode: "bwrap"}, {Name: "test", Passed: true, Mode: "bwrap"}}

// base is a person's one-line change to main.go, both checks passed
// isolated: risk 1 (+0 one file, +1 for 2 lines), confidence 90 (+20
// applied, +40 checks, +5 isolated, +25 a person's change).
func base() Input {
	return Input{Diff: modify("main.go"), Source: SourcePastedDiff, Targets: []string{"main.go"},
		Checks: slices.Clone(passed), Verified: true}
}

func ptr(n int) *int { return &n }

// TestFactors: each factor moves the score by its weight, and says why.
func TestFactors(t *testing.T) {
	for _, tc := range []struct {
		name             string
		change           func(*Input)
		risk, confidence int
		reason           string // a whole reason line of either score
	}{
		{"base", func(*Input) {}, 1, 90, "+1 2 lines changed (+1 -1)"},
		{"CI workflow", func(in *Input) {
			in.Diff = modify(".github/workflows/ci.yml")
			in.TouchesChecks = []string{".github/workflows/ci.yml"} // counted once, as CI
		}, 1 + 15, 90, "+15 touches CI or check config: .github/workflows/ci.yml"},
		{"gitlab CI", func(in *Input) { in.Diff = modify(".gitlab-ci.yml") }, 16, 90, "+15 touches CI or check config: .gitlab-ci.yml"},
		{"check config", func(in *Input) { in.Diff = modify(".patchgit.yaml") }, 16, 90, "+15 touches CI or check config: .patchgit.yaml"},
		{"auth dir", func(in *Input) { in.Diff = modify("internal/auth/handler.go") }, 16, 90, "+15 touches auth or security code: internal/auth/handler.go"},
		{"auth camelCase", func(in *Input) { in.Diff = modify("web/passwordReset.ts") }, 16, 90, "+15 touches auth or security code: web/passwordReset.ts"},
		{"spinner is not a pin", func(in *Input) { in.Diff = modify("internal/tui/spinner.go") }, 1, 90, "+0 1 file touched"},
		{"author is not auth", func(in *Input) { in.Diff = modify("author.go") }, 1, 90, "+0 1 file touched"},
		{"migration", func(in *Input) { in.Diff = modify("db/migrations/0001_init.up.sql") }, 11, 90, "+10 touches database migrations: db/migrations/0001_init.up.sql"},
		{"go.mod", func(in *Input) {
			in.Diff = modify("go.mod")
			in.TouchesChecks = []string{"go.mod"} // counted once, as a dependency
		}, 11, 90, "+10 touches dependency manifests or lock files: go.mod"},
		{"requirements", func(in *Input) { in.Diff = modify("requirements-dev.txt") }, 11, 90, "+10 touches dependency manifests or lock files: requirements-dev.txt"},
		{"Cargo.toml", func(in *Input) { in.Diff = modify("Cargo.toml") }, 11, 90, "+10 touches dependency manifests or lock files: Cargo.toml"},
		{"a test the checks run", func(in *Input) {
			in.Diff = modify("main_test.go")
			in.TouchesChecks = []string{"main_test.go"}
		}, 11, 90, "+10 changes files the checks depend on: main_test.go"},
		{"deleted file", func(in *Input) { in.Diff = deleteFile("old.go") }, 6, 90, "+5 deletes 1 file: old.go"},
		{"four deleted files cap at 15", func(in *Input) {
			in.Diff = deleteFile("a.go") + deleteFile("b.go") + deleteFile("c.go") + deleteFile("d.go")
		}, 15 + 6 + 1, 90, "+15 deletes 4 files: a.go, b.go, c.go and 1 more"},
		{"binary file", func(in *Input) { in.Diff = binaryFile("logo.png") }, 10, 90, "+10 changes binary files, not reviewable in the diff: logo.png"},
		{"three files", func(in *Input) { in.Diff = many(3) }, 4 + 1, 90, "+4 3 files touched"},
		{"files cap at 10", func(in *Input) { in.Diff = many(9) }, 10 + 1, 90, "+10 9 files touched"},
		{"60 lines", func(in *Input) { in.Diff = grow("main.go", 60) }, 3, 90, "+3 60 lines changed (+60 -0)"},
		{"lines cap at 20", func(in *Input) { in.Diff = grow("main.go", 2000) }, 20, 90, "+20 2000 lines changed (+2000 -0)"},
		{"no checks", func(in *Input) { in.Checks = nil }, 1 + 15, 20 - 10 + 25,
			"+15 no checks ran: only that the change applies was verified"},
		{"failing check", func(in *Input) {
			in.Checks[1] = Check{Name: "test", ExitCode: 1, Mode: "bwrap"}
			in.Verified = false
		}, 1 + 25, 20 - 30 + 5 + 25, `-30 check "test" failed (exit code 1)`},
		{"timed out check", func(in *Input) {
			in.Checks[1] = Check{Name: "test", TimedOut: true, ExitCode: -1, Mode: "bwrap"}
			in.Verified = false
		}, 1 + 20, 20 - 20 + 5 + 25, `+20 check "test" timed out: its verdict is unknown`},
		{"stopped before the checks finished", func(in *Input) { in.Verified = false }, 1 + 25, 20 - 20 + 5 + 25,
			"+25 verification stopped before the checks finished"},
		{"unisolated", func(in *Input) {
			in.Checks = []Check{{Name: "test", Passed: true, Mode: "plain"}}
		}, 1, 20 + 40 - 10 + 25, "-10 the checks ran unisolated (plain): the host can sway them"},
		{"namespaces", func(in *Input) {
			in.Checks = []Check{{Name: "test", Passed: true, Mode: "namespaces"}}
		}, 1, 90, "+5 the checks ran isolated (namespaces)"},
		{"another runner", func(in *Input) {
			in.Checks = []Check{{Name: "test", Passed: true, Mode: "helper"}}
		}, 1, 85, "+0 the checks ran in mode helper"},
		{"search/replace", func(in *Input) { in.Source = SourceSearchReplace }, 1, 90,
			"+25 a person wrote the change (search-replace): it is its own plan"},
		{"operation", func(in *Input) { in.Source, in.Targets = SourceOperation, nil }, 1, 90,
			"+25 a configured repository operation made the change: the command is its own plan"},
		{"model, plan agrees", func(in *Input) { in.Source = SourceModel }, 1, 20 + 40 + 5 + 15,
			"+15 the diff touches exactly the plan's 1 target file"},
		{"model, planned file not changed", func(in *Input) {
			in.Source, in.Targets = SourceModel, []string{"main.go", "util.go"}
		}, 1, 20 + 40 + 5 - 5, "-5 planned but not changed: util.go"},
		{"model, unplanned file changed", func(in *Input) {
			in.Source, in.Targets = SourceModel, nil
		}, 1, 20 + 40 + 5 - 5, "-5 changed but not in the plan: main.go"},
		{"model, plan far off", func(in *Input) {
			in.Source, in.Targets = SourceModel, []string{"a.go", "b.go", "c.go", "d.go"}
		}, 1, 20 + 40 + 5 - 15 - 5, "-15 planned but not changed: a.go, b.go, c.go and 1 more"},
		{"model rates itself 80", func(in *Input) { in.Source, in.ModelConfidence = SourceModel, ptr(80) }, 1, 80 + 6,
			"+6 the model rates its change 80/100"},
		{"model rates itself 0", func(in *Input) { in.Source, in.ModelConfidence = SourceModel, ptr(0) }, 1, 80 - 10,
			"-10 the model rates its change 0/100"},
		{"model assessment out of range", func(in *Input) { in.Source, in.ModelConfidence = SourceModel, ptr(140) }, 1, 80,
			"+0 the model's own assessment 140 is outside 0..100: ignored"},
		{"a person's change ignores a model assessment", func(in *Input) { in.ModelConfidence = ptr(0) }, 1, 90,
			"+25 a person wrote the change (pasted-diff): it is its own plan"},
		{"unknown source", func(in *Input) { in.Source = "fax" }, 1, 65, `+0 the change's source "fax" is unknown`},
		{"did not apply", func(in *Input) {
			in.Diff, in.Checks, in.Verified = "", nil, false
		}, 100, 0, "+100 the change did not apply in the sandbox: nothing was verified or can be published"},
		{"unreadable diff", func(in *Input) {
			in.Diff = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n"
		}, 40, 90, "+40 the diff cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.change(&in)
			risk, conf := Risk(in), Confidence(in)
			if risk.Value != tc.risk || conf.Value != tc.confidence {
				t.Errorf("risk %d confidence %d, want %d and %d\nrisk: %q\nconfidence: %q", risk.Value, conf.Value, tc.risk, tc.confidence, risk.Factors, conf.Factors)
			}
			lines := append(slices.Clone(risk.Factors), conf.Factors...)
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, tc.reason) }) {
				t.Errorf("no reason %q in %q", tc.reason, lines)
			}
			checkSums(t, risk)
			checkSums(t, conf)
		})
	}
}

// checkSums: the reason lines add up to the value, as the person can check.
func checkSums(t *testing.T, s Score) {
	t.Helper()
	sum := 0
	for _, l := range s.Factors {
		n, err := strconv.Atoi(strings.Fields(l)[0])
		if err != nil {
			t.Fatalf("reason %q does not start with its points", l)
		}
		sum += n
	}
	if sum != s.Value || s.Value < 0 || s.Value > 100 {
		t.Errorf("reasons sum to %d, value %d: %q", sum, s.Value, s.Factors)
	}
}

func TestClamping(t *testing.T) {
	in := base()
	in.Diff = modify(".github/workflows/ci.yml") + modify("internal/auth/pin.go") + modify("db/migrate/1.sql") +
		modify("go.mod") + deleteFile("a.go") + deleteFile("b.go") + deleteFile("c.go") + binaryFile("x.bin") + many(6)
	in.Checks[1] = Check{Name: "test", ExitCode: 2, Mode: "plain"}
	in.Checks[0].Mode = "plain"
	in.Verified = false
	in.Source, in.Targets, in.ModelConfidence = SourceModel, []string{"p.go", "q.go", "r.go"}, ptr(0)

	risk := Risk(in)
	// 25 failed + 15 CI + 15 auth + 15 deleted + 10 migration + 10 deps + 10 binary + 10 (14 files)
	// + 2 (26 lines) = 112.
	if risk.Value != 100 || risk.Factors[len(risk.Factors)-1] != "-12 clamped: a score stays within 0..100" {
		t.Errorf("risk %d: %q", risk.Value, risk.Factors)
	}
	conf := Confidence(in)
	// 20 applied - 30 failed - 10 plain - 15 missed - 15 extra - 10 self-assessment.
	if conf.Value != 0 || conf.Factors[len(conf.Factors)-1] != "+60 clamped: a score stays within 0..100" {
		t.Errorf("confidence %d: %q", conf.Value, conf.Factors)
	}
	checkSums(t, risk)
	checkSums(t, conf)
}

func TestBiggestReasonsFirst(t *testing.T) {
	in := base()
	in.Diff = modify("main.go") + modify("go.mod") + modify(".github/workflows/x.yml")
	got := Risk(in).Factors
	want := []string{
		"+15 touches CI or check config: .github/workflows/x.yml",
		"+10 touches dependency manifests or lock files: go.mod",
		"+4 3 files touched",
		"+1 6 lines changed (+3 -3)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestSameInputSameScore(t *testing.T) {
	in := base()
	in.Diff = many(5) + deleteFile("z.go")
	a, b := Risk(in), Risk(in)
	if a.Value != b.Value || !slices.Equal(a.Factors, b.Factors) {
		t.Errorf("%v != %v", a, b)
	}
}

func TestLowConfidence(t *testing.T) {
	for _, tc := range []struct {
		s    *Score
		want bool
	}{{nil, false}, {&Score{Value: 0}, true}, {&Score{Value: LowConfidenceBelow - 1}, true}, {&Score{Value: LowConfidenceBelow}, false}, {&Score{Value: 100}, false}} {
		if got := LowConfidence(tc.s); got != tc.want {
			t.Errorf("LowConfidence(%v) = %v", tc.s, got)
		}
	}
	// A model's change with passing checks and a plan that agrees is not
	// low; one whose checks failed is.
	in := base()
	in.Source = SourceModel
	if c := Confidence(in); LowConfidence(&c) {
		t.Errorf("agreeing, passing model change is low: %v", c)
	}
	in.Checks[1] = Check{Name: "test", ExitCode: 1, Mode: "bwrap"}
	in.Verified = false
	if c := Confidence(in); !LowConfidence(&c) {
		t.Errorf("failing model change is not low: %v", c)
	}
}

// TestWeightsTableIsDocumented keeps docs/assistant.md's factor table equal
// to Weights.
func TestWeightsTableIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/assistant.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, w := range Weights {
		if seen[w.Score+w.Key] {
			t.Errorf("weight %s/%s twice", w.Score, w.Key)
		}
		seen[w.Score+w.Key] = true
		if row := docRow(w); !strings.Contains(string(doc), row) {
			t.Errorf("docs/assistant.md lacks the row\n%s", row)
		}
	}
	if t.Failed() {
		t.Logf("the table as the code has it:\n%s", docTable())
	}
}

// TestDiffFromGit reads what git itself writes, the way the sandbox
// computes the canonical diff: a rename, a deletion, a binary file and an
// edit.
func TestDiffFromGit(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=T", "-c", "user.email=t@example.com"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q")
	long := strings.Repeat("package x\n// a line long enough that git sees a rename\n", 10)
	write("old/name.go", long)
	write("gone.go", "package x\n\nvar gone = 1\n")
	write("main.go", "package x\n\nvar v = 1\n")
	run("add", "-A")
	run("commit", "-qm", "base")
	if err := os.MkdirAll(filepath.Join(dir, "internal/auth"), 0o755); err != nil {
		t.Fatal(err)
	}
	run("mv", "old/name.go", "internal/auth/name.go")
	run("rm", "-q", "gone.go")
	write("main.go", "package x\n\nvar v = 2\n")
	write("logo.png", "\x89PNG\r\n\x1a\n\x00\x00\x00binary")
	run("add", "-A")
	diff := run("diff", "--cached", "--binary", "--no-color", "--find-renames", "HEAD", "--")

	in := base()
	in.Diff = diff
	got := Risk(in)
	want := []string{
		"+15 touches auth or security code: internal/auth/name.go", // the rename's new name
		"+10 changes binary files, not reviewable in the diff: logo.png",
		"+6 4 files touched",
		"+5 deletes 1 file: gone.go",
		"+1 5 lines changed (+1 -4)",
	}
	if got.Value != 37 || !slices.Equal(got.Factors, want) {
		t.Errorf("risk %d %q\nwant 37 %q\ndiff:\n%s", got.Value, got.Factors, want, diff)
	}
}
