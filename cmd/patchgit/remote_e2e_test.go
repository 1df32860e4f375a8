package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// cutProxy forwards TCP to the daemon until the test cuts it: a dropped
// network between `patchgit tui --connect` and the daemon.
type cutProxy struct {
	t       *testing.T
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   []net.Conn
	refuse  bool
	accepts int
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{t: t, ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut(false) })
	go p.serve()
	return p
}

func (p *cutProxy) port() string {
	return p.ln.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):]
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepts++
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// cut closes every open connection; refuse keeps new ones out until allow.
func (p *cutProxy) cut(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = refuse
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) allow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refuse = false
}

func (p *cutProxy) acceptCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}

// remoteTUI runs `patchgit tui --connect` in tmux, in its own HOME and
// working directory, and echoes its exit status when it ends.
func remoteTUI(t *testing.T, name string, width int, home, work, connect string, env ...string) *tmux {
	t.Helper()
	line := "cd " + quoteAll([]string{work})[0] + " && env HOME=" + quoteAll([]string{home})[0] + " " +
		strings.Join(quoteAll(env), " ") + " " + quoteAll([]string{binary})[0] + " tui --connect " + connect + "; echo TUI-EXIT=$?"
	return newTmuxKept(t, name, width, 48, "sh", "-c", line)
}

// newTmuxKept is newTmux for a command that may end at once (a refusal):
// remain-on-exit is set in the same tmux invocation, before the server
// can reap the command, so its last words stay readable.
func newTmuxKept(t *testing.T, name string, width, height int, command ...string) *tmux {
	t.Helper()
	x := &tmux{t: t, socket: fmt.Sprintf("pg-%d-%s", os.Getpid(), name), target: name}
	args := append([]string{"new-session", "-d", "-s", name, "-x", fmt.Sprint(width), "-y", fmt.Sprint(height)}, command...)
	x.run(append(args, ";", "set-option", "-t", name, "remain-on-exit", "on")...)
	t.Cleanup(func() { exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	return x
}

// headerConversation is the short conversation id in the app's header.
var headerConversation = regexp.MustCompile(`conversation .* · ([0-9a-f]{6,})`)

// TestE2ERemoteTUI drives `patchgit tui --connect` against the real daemon:
// first-use host key prompt, PIN, the same conversation as an SSH session,
// the local niceties, GO, a dropped connection in the middle of the job,
// and the catch-up after reconnecting.
func TestE2ERemoteTUI(t *testing.T) {
	requireTools(t, "tmux", "ssh", "git", "less")
	data := t.TempDir()
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN)
	bare := filepath.Join(data, "repos", "demo.git")
	proxy := startCutProxy(t, d.sshAddr)
	home, work := t.TempDir(), t.TempDir()

	x := remoteTUI(t, "remote", 160, home, work, "alice@127.0.0.1:"+proxy.port(), "PAGER=less")
	x.run("set-option", "-g", "set-clipboard", "on")
	screen := x.waitFor(`continue connecting \(yes/no/\[fingerprint\]\)\?`, 30*time.Second)
	if !regexp.MustCompile(`ED25519 key fingerprint is SHA256:`).MatchString(screen) {
		t.Fatalf("the first-use prompt shows no fingerprint:\n%s", screen)
	}
	x.typeText("yes")
	x.keys("Enter")
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Proposed Execution`, 30*time.Second)
	kh, err := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts"))
	if err != nil || !strings.HasPrefix(string(kh), "[127.0.0.1]:"+proxy.port()+" ssh-ed25519 ") {
		t.Fatalf("known_hosts after yes: %v\n%s", err, kh)
	}

	diff := demoDiff(t, bare, howdy(t))
	x.paste(diff)
	x.waitFor(`Howdy`, 10*time.Second)
	x.keys("Enter")
	screen = x.waitFor(`proposed\s+revision 1`, 3*time.Minute)
	remoteConv := headerConversation.FindStringSubmatch(screen)

	// An SSH session sees the same conversation and proposal.
	s := newTmux(t, "sshapp", 160, 48, sshCommand(d.port, "alice", "-t")...)
	s.waitFor(`PIN:`, 30*time.Second)
	s.typeText(testPIN)
	s.keys("Enter")
	sshScreen := s.waitFor(`proposed\s+revision 1`, 30*time.Second)
	sshConv := headerConversation.FindStringSubmatch(sshScreen)
	if remoteConv == nil || sshConv == nil || remoteConv[1] != sshConv[1] {
		t.Fatalf("remote and ssh show different conversations:\n%s\n---\n%s", screen, sshScreen)
	}

	// Local niceties, in the proposal pane: write the diff, copy the id,
	// page the diff.
	x.keys("Tab")
	x.keys("w")
	screen = x.waitFor(`diff written to \S+`, 10*time.Second)
	written := regexp.MustCompile(`diff written to (\S+)`).FindStringSubmatch(screen)[1]
	if got, err := os.ReadFile(written); err != nil || string(got) != diff || filepath.Dir(written) != work {
		t.Fatalf("written diff %s: %v\n%s", written, err, got)
	}
	x.keys("c")
	screen = x.waitFor(`copied proposal id [0-9a-f]+`, 10*time.Second)
	id := regexp.MustCompile(`copied proposal id ([0-9a-f]+)`).FindStringSubmatch(screen)[1]
	deadline := time.Now().Add(10 * time.Second)
	for buf := ""; buf != id; buf = strings.TrimSpace(x.runQuiet("show-buffer")) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal's clipboard (tmux buffer) holds %q, want %q", buf, id)
		}
		time.Sleep(100 * time.Millisecond)
	}
	x.keys("o")
	x.waitFor(`(?m)^\+\+\+ b/greet.go`, 10*time.Second)
	x.keys("q")
	x.waitFor(`Proposed Execution`, 10*time.Second)

	// Move main, so GO re-verifies on the new head: a job that runs long
	// enough to cut the connection in its middle.
	clone := filepath.Join(t.TempDir(), "main")
	gitOut(t, "", "clone", "-q", bare, clone)
	if err := os.WriteFile(filepath.Join(clone, "NOTES.md"), []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitOut(t, clone, "add", "NOTES.md")
	gitOut(t, clone, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "notes")
	gitOut(t, clone, "push", "-q", "origin", "HEAD:main")

	x.keys("C-g")
	x.waitFor(`y/n`, 10*time.Second)
	x.keys("y")
	x.waitFor(`GO on revision 1: job`, 30*time.Second) // the daemon took the GO
	proxy.cut(true)
	if got := patchgitBranches(t, bare); len(got) != 0 {
		t.Fatalf("the job pushed before the connection was cut (%v): the test proves nothing", got)
	}
	x.waitFor(`connection to alice@127.0.0.1:\d+ lost: reconnecting`, 30*time.Second)
	// The job finishes on the daemon with nobody connected.
	deadline = time.Now().Add(3 * time.Minute)
	for out, _ := patchgit(t, data, "", "prs"); !strings.Contains(out, "#1"); out, _ = patchgit(t, data, "", "prs") {
		if time.Now().After(deadline) {
			t.Fatalf("the job did not finish while the client was away:\n%s\n%s", out, d.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	refused := proxy.acceptCount()
	proxy.allow()
	x.waitFor(`reconnected to alice@127.0.0.1`, time.Minute)
	x.waitFor(`published\s+revision 1`, 30*time.Second)
	if proxy.acceptCount() <= refused {
		t.Fatal("the client never came back")
	}
	if got := patchgitBranches(t, bare); len(got) != 1 {
		t.Fatalf("branches %v, want one", got)
	}
	if n := gitOut(t, bare, "rev-list", "--count", "main"); n != "2" {
		t.Fatalf("main has %s commits, want 2: PatchGit must never merge", n)
	}
	audit, err := patchgit(t, data, "", "audit", "export")
	if err != nil || !strings.Contains(audit, `"actor":"alice"`) {
		t.Fatalf("audit names no alice: %v\n%s", err, audit)
	}

	x.keys("C-c")
	x.waitFor(`TUI-EXIT=0`, 10*time.Second)
}

// TestE2ERemoteTUIRefusesChangedHostKey: a known_hosts entry with another
// key for the daemon's address stops the client before any PIN is asked.
func TestE2ERemoteTUIRefusesChangedHostKey(t *testing.T) {
	requireTools(t, "tmux")
	d := startDaemon(t, t.TempDir(), "PATCHGIT_PIN="+testPIN)
	home, work := t.TempDir(), t.TempDir()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	old, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(home, ".ssh", "known_hosts")
	os.MkdirAll(filepath.Dir(known), 0o700)
	line := knownhosts.Line([]string{knownhosts.Normalize(d.sshAddr)}, old) + "\n"
	if err := os.WriteFile(known, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	x := remoteTUI(t, "changed", 160, home, work, "alice@"+d.sshAddr)
	x.waitFor(`TUI-EXIT=\d+`, time.Minute)
	// -J: the message is one long line; read it unwrapped.
	screen := x.run("capture-pane", "-p", "-J", "-S", "-", "-t", x.target)
	for _, want := range []string{"REMOTE HOST IDENTIFICATION HAS CHANGED", ssh.FingerprintSHA256(old), known + ":1",
		"ssh-keygen -R '[127.0.0.1]:" + d.port + "'", "TUI-EXIT=1"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "PIN") {
		t.Errorf("the PIN was asked of a host with a changed key:\n%s", screen)
	}
	if got, _ := os.ReadFile(known); string(got) != line {
		t.Errorf("known_hosts changed:\n%s", got)
	}
}

// TestE2ERPCVersionMismatchIsExplained speaks the protocol by hand over
// OpenSSH, as a newer client would, and reads the daemon's answer.
func TestE2ERPCVersionMismatchIsExplained(t *testing.T) {
	requireTools(t, "tmux", "ssh")
	d := startDaemon(t, t.TempDir(), "PATCHGIT_PIN="+testPIN)
	hello := `{"hello":{"version":99,"client":"patchgit v99"}}`
	cmd := "printf '%s\\n' '" + hello + "' | " + strings.Join(quoteAll(sshCommand(d.port, "alice")), " ") + " rpc; echo SSH-EXIT=$?"
	x := newTmux(t, "version", 200, 30, "sh", "-c", cmd)
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	screen := strings.Join(strings.Fields(x.waitFor(`SSH-EXIT=\d+`, time.Minute)), " ")
	for _, want := range []string{`"code":"version"`, "speaks control protocol version 1", "patchgit v99", "upgrade the daemon"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the mismatch answer lacks %q:\n%s", want, screen)
		}
	}
}

// runQuiet is run for a tmux command that may fail (show-buffer before any
// buffer exists): "" on failure.
func (x *tmux) runQuiet(args ...string) string {
	out, err := exec.Command("tmux", append([]string{"-L", x.socket, "-f", "/dev/null"}, args...)...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// TestE2ERemoteTUIThroughProxyCommand reaches the daemon through a proxy
// command (what -J uses), answers one wrong PIN first, and checks that the
// host key is remembered under the name typed, not the proxy's.
func TestE2ERemoteTUIThroughProxyCommand(t *testing.T) {
	requireTools(t, "tmux", "bash")
	d := startDaemon(t, t.TempDir(), "PATCHGIT_PIN="+testPIN)
	home, work := t.TempDir(), t.TempDir()
	// bash's /dev/tcp stands in for `ssh -W %h:%p jumphost`.
	proxy := `bash -c 'exec 3<>/dev/tcp/127.0.0.1/` + d.port + `; cat <&3 & exec cat >&3'`
	x := remoteTUI(t, "proxied", 160, home, work, "bob@daemon.internal:"+d.port+" --proxy-command "+quoteAll([]string{proxy})[0])
	x.waitFor(`The authenticity of host '\[daemon.internal\]:`+d.port+`' can't be established`, 30*time.Second)
	x.typeText("yes")
	x.keys("Enter")
	x.waitFor(`PIN:`, 30*time.Second)
	x.typeText("000000")
	x.keys("Enter")
	x.waitFor(`Wrong PIN, try again`, 30*time.Second)
	x.typeText(testPIN)
	x.keys("Enter")
	x.waitFor(`Proposed Execution`, 30*time.Second)
	kh, _ := os.ReadFile(filepath.Join(home, ".ssh", "known_hosts"))
	if !strings.HasPrefix(string(kh), "[daemon.internal]:"+d.port+" ssh-ed25519 ") {
		t.Fatalf("known_hosts:\n%s", kh)
	}
	x.keys("C-c")
	x.waitFor(`TUI-EXIT=0`, 10*time.Second)
	if logs := d.logs.String(); strings.Contains(logs, testPIN) || strings.Contains(logs, "000000") {
		t.Fatalf("a PIN reached the daemon's log:\n%s", logs)
	}
}

// TestE2ERemoteTUIWrongPINGivesUp: three wrong PINs end the client with a
// clear message, as OpenSSH's three prompts do.
func TestE2ERemoteTUIWrongPINGivesUp(t *testing.T) {
	requireTools(t, "tmux")
	d := startDaemon(t, t.TempDir(), "PATCHGIT_PIN="+testPIN)
	home, work := t.TempDir(), t.TempDir()
	x := remoteTUI(t, "wrongpin", 160, home, work, "carol@"+d.sshAddr)
	x.waitFor(`\(yes/no/\[fingerprint\]\)\?`, 30*time.Second)
	x.typeText("yes")
	x.keys("Enter")
	for i := 0; i < 3; i++ {
		x.waitFor(`(?s)(PIN:.*){`+string(rune('1'+i))+`}`, 30*time.Second)
		x.typeText("000000")
		x.keys("Enter")
	}
	x.waitFor(`TUI-EXIT=1`, time.Minute)
	screen := x.run("capture-pane", "-p", "-J", "-S", "-", "-t", x.target)
	if !strings.Contains(screen, "the daemon refused the PIN") || strings.Contains(screen, "Proposed Execution") {
		t.Fatalf("three wrong PINs:\n%s", screen)
	}
}

// TestE2ERemoteTUICtrlCAtThePINPrompt: ctrl+c while the PIN is asked
// stops the client and leaves the terminal echoing again.
func TestE2ERemoteTUICtrlCAtThePINPrompt(t *testing.T) {
	requireTools(t, "tmux", "stty")
	d := startDaemon(t, t.TempDir(), "PATCHGIT_PIN="+testPIN)
	home := t.TempDir()
	// The trap keeps sh alive after ctrl+c to report; its child gets the
	// default SIGINT behaviour back.
	line := "trap true INT; env HOME=" + quoteAll([]string{home})[0] + " " + quoteAll([]string{binary})[0] +
		" tui --connect dave@" + d.sshAddr + "; echo TUI-EXIT=$?; stty -a | grep -o -- '-*echo ' | head -1 | sed 's/^/ECHO=/'"
	x := newTmuxKept(t, "ctrlc", 160, 30, "sh", "-c", line)
	x.waitFor(`\(yes/no/\[fingerprint\]\)\?`, 30*time.Second)
	x.typeText("yes")
	x.keys("Enter")
	x.waitFor(`PIN:`, 30*time.Second)
	x.keys("C-c")
	screen := x.waitFor(`ECHO=\S+`, 30*time.Second)
	if !strings.Contains(screen, "interrupted") || !regexp.MustCompile(`TUI-EXIT=130`).MatchString(screen) || !strings.Contains(screen, "ECHO=echo") {
		t.Fatalf("ctrl+c at the PIN prompt:\n%s", screen)
	}
}
