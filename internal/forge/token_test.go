package forge_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/forge"
)

func TestTokenComesFromEnvOrFileAndBadOnesAreExplained(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("tok-from-file\nsecond line ignored\n"), 0o600)
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("tok-world-readable\n"), 0o644)
	os.Chmod(open, 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	t.Setenv("TEST_TOKEN_SET", " tok-from-env \n")
	t.Setenv("TEST_TOKEN_EMPTY", "")
	t.Setenv("TEST_TOKEN_SPACE", "two words")

	for _, c := range []struct {
		tok  forge.Token
		want string // the value, or a piece of the error
		ok   bool
	}{
		{forge.Token{Env: "TEST_TOKEN_SET"}, "tok-from-env", true},
		{forge.Token{File: good}, "tok-from-file", true},
		{forge.Token{Env: "TEST_TOKEN_EMPTY"}, "environment variable TEST_TOKEN_EMPTY is empty", false},
		{forge.Token{Env: "TEST_TOKEN_SPACE"}, "holds whitespace", false},
		{forge.Token{File: open}, "is readable by other users (mode 0644); run chmod 600", false},
		{forge.Token{File: empty}, "token file " + empty + " is empty", false},
		{forge.Token{File: filepath.Join(dir, "missing")}, "cannot read", false},
		{forge.Token{}, "neither token_env nor token_file", false},
	} {
		got, err := c.tok.Value()
		switch {
		case c.ok && (err != nil || got != c.want):
			t.Errorf("%v: %q, %v; want %q", c.tok, got, err, c.want)
		case !c.ok && (!errors.Is(err, forge.ErrNoToken) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: err %v, want %q", c.tok, err, c.want)
		case !c.ok && strings.Contains(err.Error(), "tok-"):
			t.Errorf("%v: the error shows the token: %v", c.tok, err)
		}
	}
}
