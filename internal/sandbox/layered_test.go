package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLayeredWorkDirs: a base is checked out once into a pristine tree;
// each Verify gets its own overlay of it, writes never reach the pristine
// tree, and what a check writes into the work tree is capped.
func TestLayeredWorkDirs(t *testing.T) {
	if !layeredUsable() {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatal("layered work dirs do not work as root under CI")
		}
		t.Skip("layered work dirs need root and overlayfs")
	}
	f := newGreetFixture(t).openMode(t, ModeAuto, Resources{WorkBytes: 8 << 20})
	for range 2 {
		res := f.verify(t, Request{Diff: []byte(greetDiff), Checks: []string{
			"grep -q hi greet.go && echo changed > README.md && rm -f greet.go && mkdir -p new/dir && touch new/dir/f",
		}})
		if res.Failure != "" {
			t.Fatalf("Failure = %q: %+v", res.Failure, res.Checks)
		}
	}
	entries, err := os.ReadDir(filepath.Join(f.root, "pristine"))
	if err != nil {
		t.Fatal(err)
	}
	var trees []string
	for _, e := range entries {
		if e.IsDir() {
			trees = append(trees, e.Name())
		}
	}
	if len(trees) != 1 || !strings.HasSuffix(trees[0], "-"+f.base) {
		t.Fatalf("pristine trees: %v, want one for %s", trees, f.base)
	}
	tree := filepath.Join(f.root, "pristine", trees[0], "repo")
	if b, err := os.ReadFile(filepath.Join(tree, "greet.go")); err != nil || string(b) != greetGo {
		t.Errorf("the pristine tree changed: %q, %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(tree, "README.md")); string(b) != "# demo\n" {
		t.Errorf("a check wrote through to the pristine tree: %q", b)
	}
	// Many small files in the work tree hit the layer's cap.
	res := f.verify(t, Request{Diff: []byte(greetDiff), CheckTimeout: time.Minute, Checks: []string{
		`i=0; while [ $i -lt 3000 ]; do head -c 8192 /dev/zero > f$i || exit 1; i=$((i+1)); done; echo wrote all`,
	}})
	if len(res.Checks) != 1 || res.Checks[0].Passed || strings.Contains(res.Checks[0].Output, "wrote all") {
		t.Errorf("24 MB of small files in an 8 MB work layer: %+v", res.Checks)
	}
	// Nothing is mounted on the host: the run dirs are gone.
	f.assertNoWorkDirs(t)
}

// TestFullCheckoutWithoutLayers: with NoLayers every Verify checks the
// base out in full, and works the same.
func TestFullCheckoutWithoutLayers(t *testing.T) {
	f := newGreetFixture(t)
	sb, err := Open(f.root+"-nolayers", f.g, Options{NoLayers: true})
	if err != nil {
		t.Fatal(err)
	}
	f.sb, f.root = sb, f.root+"-nolayers"
	res := f.verify(t, Request{Diff: []byte(greetDiff), Checks: []string{"grep -q hi greet.go && touch new.txt && echo x >> README.md"}})
	if res.Failure != "" || string(res.Diff) == "" {
		t.Fatalf("Failure = %q: %+v", res.Failure, res.Checks)
	}
	if _, err := os.Stat(filepath.Join(f.root, "pristine")); err == nil {
		t.Errorf("a pristine tree was made with NoLayers")
	}
}
