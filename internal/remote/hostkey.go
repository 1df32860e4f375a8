package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Prompter talks to the person in their terminal, before the app starts.
type Prompter interface {
	// Ask shows question and returns the line typed (echoed).
	Ask(question string) (string, error)
	// Secret shows prompt and returns the line typed, not echoed.
	Secret(prompt string) (string, error)
	// Say shows a line.
	Say(line string)
}

// hostKeys verifies the daemon's key against an OpenSSH known_hosts file,
// asking, as OpenSSH does, before it trusts a host the first time.
type hostKeys struct {
	path string
	ask  Prompter
}

// check is an ssh.HostKeyCallback.
func (h *hostKeys) check(hostname string, remote net.Addr, key ssh.PublicKey) error {
	err := h.known(hostname, remote, key)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &revoked):
		return fmt.Errorf("%w: %s key %s for %s (%s:%d): remove the daemon's old key and give it a new one",
			ErrHostKeyRevoked, keyType(key), ssh.FingerprintSHA256(key), knownhosts.Normalize(hostname),
			revoked.Revoked.Filename, revoked.Revoked.Line)
	case errors.As(err, &keyErr) && len(keyErr.Want) > 0:
		return changedKey(hostname, key, keyErr.Want[0].Filename, keyErr.Want[0].Line, ssh.FingerprintSHA256(keyErr.Want[0].Key))
	case errors.As(err, &keyErr):
		return h.askFirstUse(hostname, key)
	default:
		return fmt.Errorf("read known hosts %s: %w", h.path, err)
	}
}

// known checks key against the file; a missing file knows no host.
func (h *hostKeys) known(hostname string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := knownhosts.New(h.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &knownhosts.KeyError{}
	}
	if err != nil {
		return err
	}
	return cb(hostname, remote, key)
}

// changedKey is OpenSSH's warning, with the command that removes the old
// entry once the person knows the change is legitimate.
func changedKey(hostname string, key ssh.PublicKey, file string, line int, was string) error {
	name := knownhosts.Normalize(hostname)
	return fmt.Errorf("%w for %s: it now presents %s key %s, but %s:%d holds %s. "+
		"Someone could be eavesdropping on you right now (a man-in-the-middle attack), or the daemon's host key was replaced. "+
		"Not connecting. If you know the key was replaced, remove the old entry with: ssh-keygen -R '%s' -f %s",
		ErrHostKeyChanged, name, keyType(key), ssh.FingerprintSHA256(key), file, line, was, name, file)
}

func (h *hostKeys) askFirstUse(hostname string, key ssh.PublicKey) error {
	name := knownhosts.Normalize(hostname)
	fp := ssh.FingerprintSHA256(key)
	h.ask.Say(fmt.Sprintf("The authenticity of host '%s' can't be established.", name))
	h.ask.Say(fmt.Sprintf("%s key fingerprint is %s.", keyType(key), fp))
	question := "Are you sure you want to continue connecting (yes/no/[fingerprint])? "
	for {
		answer, err := h.ask.Ask(question)
		if err != nil {
			return fmt.Errorf("ask about the host key of %s: %w", name, err)
		}
		switch strings.TrimSpace(answer) {
		case "yes", fp:
			if err := h.add(name, key); err != nil {
				return err
			}
			h.ask.Say(fmt.Sprintf("Warning: Permanently added '%s' (%s) to the list of known hosts.", name, keyType(key)))
			return nil
		case "no":
			return fmt.Errorf("%w: %s presents %s key %s, and you answered no", ErrHostKeyNotAccepted, name, keyType(key), fp)
		}
		question = "Please type 'yes', 'no' or the fingerprint: "
	}
}

// add appends the key in OpenSSH's format, creating the file (0600) and
// its directory (0700) when needed.
func (h *hostKeys) add(name string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(h.path), 0o700); err != nil {
		return fmt.Errorf("create the known hosts directory: %w", err)
	}
	f, err := os.OpenFile(h.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open known hosts %s: %w", h.path, err)
	}
	defer f.Close()
	line := knownhosts.Line([]string{name}, key) + "\n"
	// Never glue the new entry onto a last line without a newline.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("add the host key to %s: %w", h.path, err)
	}
	return f.Close()
}

// keyType names a key the way OpenSSH's prompts do (ED25519, RSA, ...).
func keyType(key ssh.PublicKey) string {
	t := strings.TrimPrefix(key.Type(), "ssh-")
	if strings.HasPrefix(t, "ecdsa") {
		return "ECDSA"
	}
	return strings.ToUpper(t)
}
