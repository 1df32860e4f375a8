// Package testbin builds the patchgit binary once per test process, for
// tests that run it as a separate program (the daemon end to end, or the
// binary a helper machine receives). Tests only.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once     sync.Once
	dir, bin string
	buildErr error
)

// Path builds patchgit on first use and returns the binary's path.
func Path() (string, error) {
	once.Do(func() {
		if dir, buildErr = os.MkdirTemp("", "patchgit-test-bin"); buildErr != nil {
			return
		}
		bin = filepath.Join(dir, "patchgit")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/patchgit/patchgit/cmd/patchgit").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build patchgit: %w\n%s", err, out)
		}
	})
	return bin, buildErr
}

// Main runs a package's tests and removes the binary afterwards; with a
// non-nil path it builds the binary first and stores its path there (a
// failed build fails the package). Use it as
// `func TestMain(m *testing.M) { os.Exit(testbin.Main(m, &binary)) }`.
func Main(m *testing.M, path *string) int {
	if path != nil {
		p, err := Path()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		*path = p
	}
	code := m.Run()
	if dir != "" {
		os.RemoveAll(dir)
	}
	return code
}

// MustPath is Path for a test: a failed build fails it.
func MustPath(t testing.TB) string {
	t.Helper()
	p, err := Path()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
