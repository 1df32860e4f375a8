// Package bench holds benchmarks that report speed as ratios against a
// baseline measured in the same run. Run them with bench/sandbox.sh.
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluekeyes/go-gitdiff/gitdiff"
	gogit "github.com/go-git/go-git/v5"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// sizes are the repository sizes measured: small, and the Go source tree
// (11,000+ files).
var sizes = []int{1000, 11000}

const commits = 300

type repo struct {
	dir, mirror, base string
	files             []string // paths in the tree
	patch             []byte   // a 7-file change
}

var (
	repos   = map[int]*repo{}
	tmpRoot string
)

func TestMain(m *testing.M) {
	var err error
	tmpRoot, err = os.MkdirTemp("", "patchgit-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(tmpRoot)
	os.Exit(code)
}

func run(b *testing.B, dir string, stdin []byte, name string, args ...string) []byte {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=b", "GIT_AUTHOR_EMAIL=b@example.com", "GIT_COMMITTER_NAME=b", "GIT_COMMITTER_EMAIL=b@example.com")
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return out
}

// bigRepo builds (once per size) a real repository from the Go source
// tree: the first n regular files of GOROOT/src, then `commits` commits
// each changing one file, mirrored bare like PatchGit's mirrors.
func bigRepo(b *testing.B, n int) *repo {
	if r, ok := repos[n]; ok {
		return r
	}
	src := filepath.Join(runtime.GOROOT(), "src")
	var files []string
	_ = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || len(files) >= n {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < n {
		b.Skipf("GOROOT/src has %d files, want %d", len(files), n)
	}
	r := &repo{dir: filepath.Join(tmpRoot, fmt.Sprintf("work-%d", n)), mirror: filepath.Join(tmpRoot, fmt.Sprintf("mirror-%d.git", n))}
	for _, f := range files {
		rel, _ := filepath.Rel(src, f)
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		dst := filepath.Join(r.dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(dst, body, 0o644); err != nil {
			b.Fatal(err)
		}
		r.files = append(r.files, rel)
	}
	run(b, "", nil, "git", "init", "-q", "--initial-branch=main", r.dir)
	// No background auto-gc racing the bare clone below.
	run(b, r.dir, nil, "git", "config", "gc.auto", "0")
	run(b, r.dir, nil, "git", "add", "-A")
	run(b, r.dir, nil, "git", "commit", "-qm", "import")
	// History: one small change per commit, through plumbing for speed.
	var script strings.Builder
	for i := range commits {
		fmt.Fprintf(&script, "echo '// history %d' >> %q\n", i, r.files[(i*7919)%len(r.files)])
		fmt.Fprintf(&script, "git commit -qam 'change %d'\n", i)
	}
	run(b, r.dir, []byte(script.String()), "sh")
	run(b, "", nil, "git", "clone", "-q", "--bare", "--", r.dir, r.mirror)
	r.base = strings.TrimSpace(string(run(b, r.dir, nil, "git", "rev-parse", "HEAD")))
	// The patch: append a line to 7 text files.
	var picked []string
	for i := 0; len(picked) < 7 && i < len(r.files); i++ {
		f := r.files[(i*104729)%len(r.files)]
		if strings.HasSuffix(f, ".go") && !slices.Contains(picked, f) {
			picked = append(picked, f)
		}
	}
	for _, f := range picked {
		fh, err := os.OpenFile(filepath.Join(r.dir, f), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintln(fh, "// patched by the benchmark")
		fh.Close()
	}
	r.patch = run(b, r.dir, nil, "git", "diff")
	run(b, r.dir, nil, "git", "checkout", "-q", "--", ".")
	repos[n] = r
	return r
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func newSandbox(b *testing.B, opts sandbox.Options) *sandbox.Sandbox {
	root, err := os.MkdirTemp(tmpRoot, "sb-")
	if err != nil {
		b.Fatal(err)
	}
	if err := os.Chmod(root, 0o711); err != nil {
		b.Fatal(err)
	}
	sb, err := sandbox.Open(root, gitops.New(), opts)
	if err != nil {
		b.Fatal(err)
	}
	return sb
}

// BenchmarkFreshWorkDir: Verify's fresh working dir vs `git clone
// --shared` + checkout, alternating in one run; go-git PlainClone once
// per size (it is slow and large).
func BenchmarkFreshWorkDir(b *testing.B) {
	ctx := context.Background()
	for _, n := range sizes {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			r := bigRepo(b, n)
			sb := newSandbox(b, sandbox.Options{})
			var ours, shared []time.Duration
			for range b.N {
				t0 := time.Now()
				_, remove, err := sb.FreshWorkDir(ctx, r.mirror, r.base)
				if err != nil {
					b.Fatal(err)
				}
				ours = append(ours, time.Since(t0))
				if err := remove(); err != nil {
					b.Fatal(err)
				}
				dst := filepath.Join(tmpRoot, "clone")
				t0 = time.Now()
				run(b, "", nil, "git", "clone", "-q", "--shared", "--no-checkout", "--", r.mirror, dst)
				run(b, dst, nil, "git", "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", r.base)
				shared = append(shared, time.Since(t0))
				os.RemoveAll(dst)
			}
			b.ReportMetric(ms(median(ours)), "full-ms")
			b.ReportMetric(ms(median(shared)), "clone-shared-ms")
			b.ReportMetric(float64(median(ours))/float64(median(shared)), "full/clone-shared")
			// Layered: the base prepared once (not timed), then an overlay per run.
			if err := sb.FreshLayeredWorkDir(ctx, r.mirror, r.base, func(string) error { return nil }); err == nil {
				var layered []time.Duration
				for range max(b.N, 5) {
					t0 := time.Now()
					if err := sb.FreshLayeredWorkDir(ctx, r.mirror, r.base, func(tree string) error {
						_, err := os.Stat(filepath.Join(tree, r.files[0]))
						return err
					}); err != nil {
						b.Fatal(err)
					}
					layered = append(layered, time.Since(t0))
				}
				b.ReportMetric(ms(median(layered)), "layered-ms")
				b.ReportMetric(float64(median(layered))/float64(median(shared)), "layered/clone-shared")
			} else {
				b.Logf("layered work dirs off: %v", err)
			}
			if os.Getenv("PATCHGIT_BENCH_GOGIT") != "0" {
				dst := filepath.Join(tmpRoot, "gogit")
				t0 := time.Now()
				if _, err := gogit.PlainClone(dst, false, &gogit.CloneOptions{URL: r.mirror}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(ms(time.Since(t0)), "gogit-clone-ms")
				b.ReportMetric(float64(median(ours))/float64(time.Since(t0)), "full/gogit")
				os.RemoveAll(dst)
			}
		})
	}
}

// BenchmarkApply: the 7-file patch with `git apply` (what Verify runs)
// vs go-gitdiff applying the same patch in memory and writing the files.
func BenchmarkApply(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			r := bigRepo(b, n)
			parsed, _, err := gitdiff.Parse(bytes.NewReader(r.patch))
			if err != nil {
				b.Fatal(err)
			}
			var gitApply, goApply []time.Duration
			for range b.N {
				t0 := time.Now()
				run(b, r.dir, r.patch, "git", "apply", "--whitespace=nowarn", "-")
				gitApply = append(gitApply, time.Since(t0))
				run(b, r.dir, nil, "git", "checkout", "-q", "--", ".")
				t0 = time.Now()
				for _, f := range parsed {
					p := filepath.Join(r.dir, f.NewName)
					src, err := os.ReadFile(p)
					if err != nil {
						b.Fatal(err)
					}
					var out bytes.Buffer
					if err := gitdiff.Apply(&out, bytes.NewReader(src), f); err != nil {
						b.Fatal(err)
					}
					if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
						b.Fatal(err)
					}
				}
				goApply = append(goApply, time.Since(t0))
				run(b, r.dir, nil, "git", "checkout", "-q", "--", ".")
			}
			b.ReportMetric(ms(median(gitApply)), "git-apply-ms")
			b.ReportMetric(ms(median(goApply)), "go-gitdiff-ms")
			b.ReportMetric(float64(median(goApply))/float64(median(gitApply)), "go-gitdiff/git-apply")
		})
	}
}

// BenchmarkVerify: the whole Verify (fresh dir, admission, apply,
// canonical diff, one trivial check `true` under isolation) vs the same
// steps with plain git commands and an unisolated `sh -c true`.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	for _, n := range sizes {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			r := bigRepo(b, n)
			layered := newSandbox(b, sandbox.Options{})
			full := newSandbox(b, sandbox.Options{NoLayers: true})
			mode, err := layered.Mode()
			if err != nil {
				b.Fatal(err)
			}
			verify := func(sb *sandbox.Sandbox) time.Duration {
				t0 := time.Now()
				res, err := sb.Verify(ctx, sandbox.Request{MirrorDir: r.mirror, Base: r.base, Diff: r.patch, Checks: []string{"true"}})
				if err != nil || res.Failure != "" {
					b.Fatalf("verify: %v %s", err, res.Failure)
				}
				return time.Since(t0)
			}
			verify(layered) // prepares the base once
			var lay, ful, plain []time.Duration
			for range b.N {
				lay = append(lay, verify(layered))
				ful = append(ful, verify(full))
				dst := filepath.Join(tmpRoot, "plain")
				t0 := time.Now()
				run(b, "", nil, "git", "clone", "-q", "--shared", "--no-checkout", "--", r.mirror, dst)
				run(b, dst, nil, "git", "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", r.base)
				run(b, dst, r.patch, "git", "apply", "--whitespace=nowarn", "-")
				run(b, dst, nil, "git", "add", "-A")
				run(b, dst, nil, "git", "diff", "--cached", "--binary", r.base)
				run(b, dst, nil, "sh", "-c", "true")
				plain = append(plain, time.Since(t0))
				os.RemoveAll(dst)
			}
			b.ReportMetric(ms(median(lay)), "verify-layered-ms")
			b.ReportMetric(ms(median(ful)), "verify-full-ms")
			b.ReportMetric(ms(median(plain)), "plain-git-ms")
			b.ReportMetric(float64(median(lay))/float64(median(plain)), "layered/plain-git")
			b.ReportMetric(float64(median(ful))/float64(median(plain)), "full/plain-git")
			b.Logf("isolation mode: %s", mode)
		})
	}
}
