package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOperationsFromTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "patchgit.yaml")
	if err := os.WriteFile(path, []byte("data_dir: "+dir+"\nrepos:\n  - name: demo\n    url: /srv/demo.git\n    operations:\n      fmt: gofmt -w .\n      go-mod-tidy: go mod tidy\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := cfg.Repos[0].Operations
	if len(ops) != 2 || ops["fmt"] != "gofmt -w ." || ops["go-mod-tidy"] != "go mod tidy" {
		t.Fatalf("operations = %v", ops)
	}
	if err := os.WriteFile(path, []byte("data_dir: "+dir+"\nrepos:\n  - name: demo\n    url: /srv/demo.git\n    operations:\n      fmt: gofmt -w .\n      fmt: rm -rf .\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, true, nil); err == nil || !strings.Contains(err.Error(), "repos[0].operations.fmt (line 7): set twice (first on line 6)") {
		t.Fatalf("a name set twice: %v", err)
	}
	if err := os.WriteFile(path, []byte("data_dir: "+dir+"\nrepos:\n  - name: demo\n    url: /srv/demo.git\n    operations: [gofmt -w .]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, true, nil); err == nil || !strings.Contains(err.Error(), "repos[0].operations (line 5): expected a mapping of names") {
		t.Fatalf("a list: %v", err)
	}
}

func TestOperationsValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		ops  map[string]string
		want string
	}{
		"upper case": {map[string]string{"Fmt": "gofmt -w ."}, `repos[1].operations.Fmt: "Fmt" is not an operation name`},
		"underscore": {map[string]string{"go_tidy": "go mod tidy"}, `repos[1].operations.go_tidy: "go_tidy" is not an operation name`},
		"leading -":  {map[string]string{"-x": "true"}, `repos[1].operations.-x:`},
		"too long":   {map[string]string{strings.Repeat("a", 41): "true"}, `is not an operation name`},
		"empty":      {map[string]string{"fmt": " "}, `repos[1].operations.fmt: is empty; give the shell command`},
		"two lines":  {map[string]string{"fmt": "gofmt -w .\nrm -rf /"}, `repos[1].operations.fmt: has a line break`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := validConfig()
			cfg.Repos[1].Operations = tc.ops
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\n does not contain %q", err, tc.want)
			}
		})
	}
	cfg := validConfig()
	cfg.Repos[1].Operations = map[string]string{"fmt": "gofmt -w .", "tidy-2": "go mod tidy"}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid operations refused: %v", err)
	}
}
