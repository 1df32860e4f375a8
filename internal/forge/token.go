package forge

import (
	"fmt"
	"os"
	"strings"
)

// Token says where a forge token comes from: an environment variable or a
// file. It is read on every use, so a rotated token needs no restart, and
// never printed: String names the source, not the value.
type Token struct {
	Env  string // name of an environment variable
	File string // path of a file holding the token (its first line)
}

// String names the source for messages.
func (t Token) String() string {
	switch {
	case t.Env != "":
		return "environment variable " + t.Env
	case t.File != "":
		return "token file " + t.File
	}
	return "no token source"
}

// Value reads the token now.
func (t Token) Value() (string, error) {
	var raw string
	switch {
	case t.Env != "":
		raw = os.Getenv(t.Env)
	case t.File != "":
		b, err := os.ReadFile(t.File)
		if err != nil {
			return "", fmt.Errorf("%w: cannot read %s: %v; create it (mode 0600) with the token on its first line", ErrNoToken, t.File, errTail(err))
		}
		// A token others can read is a leaked token: refuse it until fixed.
		if fi, err := os.Stat(t.File); err == nil && fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("%w: %s is readable by other users (mode %04o); run chmod 600 %s", ErrNoToken, t.File, fi.Mode().Perm(), t.File)
		}
		raw, _, _ = strings.Cut(string(b), "\n")
	default:
		return "", fmt.Errorf("%w: the repository has neither token_env nor token_file", ErrNoToken)
	}
	tok := strings.TrimSpace(raw)
	if tok == "" {
		return "", fmt.Errorf("%w: %s is empty; put a personal access token there (docs/forges.md lists the scopes)", ErrNoToken, t)
	}
	if strings.ContainsAny(tok, " \t\r\x00") {
		return "", fmt.Errorf("%w: %s holds whitespace or control characters, not a token", ErrNoToken, t)
	}
	return tok, nil
}

// errTail is the part of a file error after the path (the path is already said).
func errTail(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
