package helperrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// Target is where a verify runs: an acquired *helper.Helper (or its Conn).
// Both work in the helper's work directory.
type Target interface {
	Upload(ctx context.Context, r io.Reader, name string, mode uint32) error
	Run(ctx context.Context, command string, stdout, stderr io.Writer) error
}

// BinaryName is the patchgit binary's name in the helper's work directory.
const BinaryName = "patchgit"

// maxResultBytes caps the helper's answer (a diff of at most
// sandbox.Limits.MaxPatchBytes plus capped check output fits with room).
const maxResultBytes = 64 << 20

// Runner is the control plane's side.
type Runner struct {
	// Binary is the patchgit binary uploaded to helpers; default the
	// running one (os.Executable).
	Binary string
	Git    *gitops.Git
	// Isolation and Resources are the control plane's sandbox settings,
	// applied on the helper too.
	Isolation string
	Resources sandbox.Resources
	Logger    *slog.Logger
	// TempDir holds bundles while they are uploaded; default os.TempDir().
	TempDir string

	once    sync.Once
	sum     string // sha256 of Binary
	binPath string
	sumErr  error
}

// binary finds and hashes the binary once: it does not change while the
// daemon runs.
func (r *Runner) binary() (path, sum string, err error) {
	r.once.Do(func() {
		r.binPath = r.Binary
		if r.binPath == "" {
			if r.binPath, r.sumErr = os.Executable(); r.sumErr != nil {
				r.sumErr = fmt.Errorf("find the patchgit binary: %w", r.sumErr)
				return
			}
		}
		f, err := os.Open(r.binPath)
		if err != nil {
			r.sumErr = fmt.Errorf("hash the patchgit binary: %w", err)
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			r.sumErr = fmt.Errorf("hash the patchgit binary: %w", err)
			return
		}
		r.sum = hex.EncodeToString(h.Sum(nil))
	})
	return r.binPath, r.sum, r.sumErr
}

func (r *Runner) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Logger
}

// Prepared is a verify ready to run on a helper: its request and the base
// commit's bundle, cut from the mirror under the mirror lock. Close it.
type Prepared struct {
	r      *Runner
	req    Request
	dir    string
	bundle string
	id     string
}

// Prepare validates the request and bundles req.Base from the mirror at
// mirrorDir. It takes the mirror lock and lets go of it before returning,
// so the caller takes the helper slot after (lock order: repository lease,
// mirror lock, helper slot).
func (r *Runner) Prepare(ctx context.Context, repo, mirrorDir string, req sandbox.Request) (*Prepared, error) {
	wire := NewRequest(repo, req, r.Isolation, r.Resources)
	if err := wire.Validate(); err != nil {
		return nil, fmt.Errorf("prepare helper verify: %w", err)
	}
	if _, _, err := r.binary(); err != nil {
		return nil, fmt.Errorf("prepare helper verify: %w", err)
	}
	dir, err := os.MkdirTemp(r.TempDir, "patchgit-helper-verify-")
	if err != nil {
		return nil, fmt.Errorf("prepare helper verify: %w", err)
	}
	p := &Prepared{r: r, req: wire, dir: dir, bundle: filepath.Join(dir, "base.bundle"), id: randomHex(6)}
	unlock, err := gitops.LockMirror(ctx, mirrorDir)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("prepare helper verify: %w", err)
	}
	err = r.Git.BundleCommit(ctx, mirrorDir, wire.Base, p.bundle)
	unlock()
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("prepare helper verify: %w", err)
	}
	return p, nil
}

// Close removes the bundle.
func (p *Prepared) Close() error { return os.RemoveAll(p.dir) }

// Run runs the verify on t: it checks the helper can run this binary and
// has git, uploads the binary unless the helper already holds the same
// build (sha256), uploads the bundle and the request, runs `patchgit
// helper verify` and reads its Result. The uploaded bundle and request are
// removed on the helper afterwards.
func (p *Prepared) Run(ctx context.Context, t Target) (sandbox.Result, error) {
	bin, sum, err := p.r.binary()
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	have, err := probe(ctx, t)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	if have != sum {
		f, err := os.Open(bin)
		if err != nil {
			return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
		}
		err = t.Upload(ctx, f, BinaryName, 0o755)
		f.Close()
		if err != nil {
			return sandbox.Result{}, fmt.Errorf("verify on helper: upload patchgit: %w", err)
		}
		p.r.log().Info("uploaded patchgit to the helper", "sha256", sum[:12])
	}
	reqName, bundleName := "verify-"+p.id+".json", "verify-"+p.id+".bundle"
	raw, err := json.Marshal(p.req)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	if err := t.Upload(ctx, bytes.NewReader(raw), reqName, 0o600); err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: upload request: %w", err)
	}
	f, err := os.Open(p.bundle)
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	err = t.Upload(ctx, f, bundleName, 0o600)
	f.Close()
	if err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: upload bundle: %w", err)
	}
	out := &capped{max: maxResultBytes}
	cmd := fmt.Sprintf("./%s helper verify --request %s --bundle %s --root .; rc=$?; rm -f %s %s; exit $rc",
		BinaryName, reqName, bundleName, reqName, bundleName)
	if err := t.Run(ctx, cmd, out, io.Discard); err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w", err)
	}
	if out.over {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w: more than %d bytes", ErrBadResult, maxResultBytes)
	}
	var res sandbox.Result
	if err := json.Unmarshal(out.buf.Bytes(), &res); err != nil {
		return sandbox.Result{}, fmt.Errorf("verify on helper: %w: %v", ErrBadResult, err)
	}
	return res, nil
}

// probeScript waits for cloud-init to finish (it installs git on a new
// droplet) and reports the helper's OS and CPU, whether git is there, and
// the sha256 of the patchgit binary it holds, if any.
const probeScript = `if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1 || true; fi
uname -sm
if command -v git >/dev/null 2>&1; then echo git=yes; else echo git=no; fi
if [ -f ` + BinaryName + ` ]; then sha256sum ` + BinaryName + `; fi`

// probe checks the helper and returns the sha256 of its patchgit ("" if
// none).
func probe(ctx context.Context, t Target) (string, error) {
	var out bytes.Buffer
	if err := t.Run(ctx, probeScript, &out, io.Discard); err != nil {
		return "", fmt.Errorf("probe helper: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 {
		return "", fmt.Errorf("probe helper: %w: unexpected answer %q", ErrBadResult, out.String())
	}
	if want := unameOf(runtime.GOOS, runtime.GOARCH); want != "" && strings.TrimSpace(lines[0]) != want {
		return "", fmt.Errorf("%w: the helper is %q but this patchgit is built for %s/%s; choose a helper image of that kind",
			ErrIncompatible, strings.TrimSpace(lines[0]), runtime.GOOS, runtime.GOARCH)
	}
	if strings.TrimSpace(lines[1]) != "git=yes" {
		return "", fmt.Errorf("%w: git is not installed on the helper; install it there (on DigitalOcean cloud-init does, see docs/helper.md)", ErrIncompatible)
	}
	if len(lines) > 2 {
		if f := strings.Fields(lines[2]); len(f) > 0 {
			return f[0], nil
		}
	}
	return "", nil
}

// unameOf is what `uname -sm` prints on a machine that runs goos/goarch
// binaries ("" when unknown: no check).
func unameOf(goos, goarch string) string {
	if goos != "linux" {
		return ""
	}
	switch goarch {
	case "amd64":
		return "Linux x86_64"
	case "arm64":
		return "Linux aarch64"
	}
	return ""
}

// capped keeps at most max bytes and says whether more came.
type capped struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if room := c.max - c.buf.Len(); room < len(p) {
		c.over = true
		p = p[:max(room, 0)]
	}
	c.buf.Write(p)
	return n, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
