package gitops

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Credentials for an https remote (e.g. a username and a token).
type Credentials struct {
	Username, Password string
}

// askpassScript answers git's prompts from two environment variables that
// only this one git process tree receives. Git asks "Username for ..." and
// "Password for ...".
const askpassScript = `#!/bin/sh
case "$1" in
[Uu]sername*) printf '%s\n' "$PATCHGIT_ASKPASS_USERNAME" ;;
*) printf '%s\n' "$PATCHGIT_ASKPASS_PASSWORD" ;;
esac
`

// askpass is what one git call needs to authenticate: extra env, the
// secrets to redact from its messages, and the script's private dir.
type askpass struct {
	env     []string
	secrets []string
	dir     string
}

// newAskpass writes the script into a private temp dir when cred is set.
// The credentials themselves are never written anywhere: they travel in
// the environment of the git process only.
func newAskpass(remote string, cred *Credentials) (*askpass, error) {
	if cred == nil {
		return &askpass{}, nil
	}
	if err := checkCredentialTransport(remote); err != nil {
		return nil, err
	}
	if strings.ContainsAny(cred.Username+cred.Password, "\n\r\x00") {
		return nil, ErrBadCredentials
	}
	dir, err := os.MkdirTemp("", "patchgit-askpass-")
	if err != nil {
		return nil, fmt.Errorf("create askpass dir: %w", err)
	}
	script := filepath.Join(dir, "askpass.sh")
	if err := os.WriteFile(script, []byte(askpassScript), 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("write askpass script: %w", err)
	}
	return &askpass{
		env: []string{
			"GIT_ASKPASS=" + script,
			"PATCHGIT_ASKPASS_USERNAME=" + cred.Username,
			"PATCHGIT_ASKPASS_PASSWORD=" + cred.Password,
		},
		secrets: []string{cred.Password},
		dir:     dir,
	}, nil
}

func (a *askpass) cleanup() {
	if a != nil && a.dir != "" {
		os.RemoveAll(a.dir)
	}
}
