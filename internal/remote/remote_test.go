package remote

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
	}{
		{"host", Target{"me", "host", 2222}},
		{"alice@host", Target{"alice", "host", 2222}},
		{"alice@host:22", Target{"alice", "host", 22}},
		{"10.0.0.5:2200", Target{"me", "10.0.0.5", 2200}},
		{"[::1]:2223", Target{"me", "::1", 2223}},
		{"bob@::1", Target{"bob", "::1", 2222}},
		{"[fe80::1%eth0]", Target{"me", "fe80::1%eth0", 2222}},
	} {
		got, err := ParseTarget(tc.in, "me", 2222)
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "@host", "alice@", "host:0", "host:99999", "host:ssh", "[::1", "[::1]x", "a b", "host;rm -rf ~", "al'ice@host"} {
		if _, err := ParseTarget(bad, "me", 2222); !errors.Is(err, ErrBadTarget) {
			t.Errorf("ParseTarget(%q): %v, want ErrBadTarget", bad, err)
		}
	}
	if got, _ := ParseTarget("[::1]:2223", "me", 2222); got.Addr() != "[::1]:2223" || got.String() != "me@[::1]:2223" {
		t.Errorf("Addr %q String %q", got.Addr(), got.String())
	}
}

// script answers Ask from a list and records what was shown.
type script struct {
	answers []string
	shown   []string
}

func (s *script) Ask(q string) (string, error) {
	s.shown = append(s.shown, q)
	if len(s.answers) == 0 {
		return "", errors.New("no more answers")
	}
	a := s.answers[0]
	s.answers = s.answers[1:]
	return a, nil
}
func (s *script) Secret(p string) (string, error) { return s.Ask(p) }
func (s *script) Say(line string)                 { s.shown = append(s.shown, line) }

func newKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var remoteAddr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 2222}

func TestFirstUseAsksAndRemembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ssh", "known_hosts") // directory missing too
	key := newKey(t)
	ask := &script{answers: []string{"maybe", "yes"}}
	h := &hostKeys{path: path, ask: ask}
	if err := h.check("droplet:2222", remoteAddr, key); err != nil {
		t.Fatal(err)
	}
	shown := strings.Join(ask.shown, "\n")
	for _, want := range []string{"The authenticity of host '[droplet]:2222' can't be established.",
		"ED25519 key fingerprint is " + ssh.FingerprintSHA256(key), "(yes/no/[fingerprint])?", "Please type 'yes', 'no' or the fingerprint:",
		"Permanently added '[droplet]:2222'"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, shown)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "[droplet]:2222 ssh-ed25519 ") {
		t.Fatalf("known_hosts: %v %q", err, b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("known_hosts mode %v, want 0600", st.Mode().Perm())
	}
	// Known now: nothing is asked.
	again := &script{}
	if err := (&hostKeys{path: path, ask: again}).check("droplet:2222", remoteAddr, key); err != nil || len(again.shown) != 0 {
		t.Fatalf("second check: %v, asked %q", err, again.shown)
	}
	// Another port is another host, as in OpenSSH.
	other := &script{answers: []string{"no"}}
	err = (&hostKeys{path: path, ask: other}).check("droplet:2200", remoteAddr, key)
	if !errors.Is(err, ErrHostKeyNotAccepted) {
		t.Fatalf("answered no: %v", err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Fatalf("a refused key was written:\n%s", b2)
	}
}

func TestFingerprintIsAnAnswerAndNewlineIsKept(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte("# mine, no newline at the end"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	if err := (&hostKeys{path: path, ask: &script{answers: []string{ssh.FingerprintSHA256(key)}}}).check("h:22", remoteAddr, key); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "h ssh-ed25519 ") {
		t.Fatalf("known_hosts:\n%s", b)
	}
}

func TestChangedKeyIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	old, now := newKey(t), newKey(t)
	if err := os.WriteFile(path, []byte("[h]:2222 "+string(ssh.MarshalAuthorizedKey(old))), 0o600); err != nil {
		t.Fatal(err)
	}
	ask := &script{answers: []string{"yes"}}
	err := (&hostKeys{path: path, ask: ask}).check("h:2222", remoteAddr, now)
	if !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("changed key: %v", err)
	}
	for _, want := range []string{ssh.FingerprintSHA256(now), ssh.FingerprintSHA256(old), path + ":1", "ssh-keygen -R '[h]:2222' -f " + path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q: %v", want, err)
		}
	}
	if len(ask.shown) != 0 {
		t.Errorf("asked about a changed key: %q", ask.shown)
	}
}

func TestRevokedKeyIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "known_hosts")
	key := newKey(t)
	if err := os.WriteFile(path, []byte("@revoked * "+string(ssh.MarshalAuthorizedKey(key))), 0o600); err != nil {
		t.Fatal(err)
	}
	err := (&hostKeys{path: path, ask: &script{answers: []string{"yes"}}}).check("h:2222", remoteAddr, key)
	if !errors.Is(err, ErrHostKeyRevoked) {
		t.Fatalf("revoked key: %v", err)
	}
}
