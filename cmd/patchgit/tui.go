package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"github.com/patchgit/patchgit/internal/remote"
	"github.com/patchgit/patchgit/internal/tui"
)

func init() {
	register("tui", command{"run the app in this terminal against a daemon: tui --connect [user@]host[:port]", runTUI})
}

const tuiUsage = `Usage: patchgit tui --connect [user@]host[:port] [flags]

Runs the PatchGit app in this terminal, talking to the daemon over SSH (its
"rpc" channel): your keys, pager and clipboard; the daemon keeps the state
and runs the jobs. The host key is checked against known_hosts (asked on
first use, as OpenSSH does); the PIN is asked here. A dropped connection is
re-established by itself. See docs/remote.md.

`

func runTUI(args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("tui", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var connect, jump, proxy, knownHosts, repo string
	fs.StringVar(&connect, "connect", "", "the daemon: [user@]host[:port] (port 2222 unless given)")
	fs.StringVar(&jump, "J", "", "reach the daemon through this jump host, [user@]host[:port], with the system's ssh -W")
	fs.StringVar(&proxy, "proxy-command", "", "command whose stdin/stdout reach the daemon, as OpenSSH's ProxyCommand (%h host, %p port, %r user)")
	fs.StringVar(&knownHosts, "known-hosts", "", "OpenSSH known_hosts file (default ~/.ssh/known_hosts)")
	fs.StringVar(&repo, "repo", "", "open this repository")
	fs.Usage = func() {
		fmt.Fprint(stderr, tuiUsage)
		fs.PrintDefaults()
	}
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: "tui takes only flags: patchgit tui --connect [user@]host[:port]"}
	}
	if connect == "" {
		return exitError{code: 2, msg: "tui needs --connect [user@]host[:port]: the daemon to talk to (on the daemon's machine, ssh in instead)"}
	}
	if jump != "" && proxy != "" {
		return exitError{code: 2, msg: "give -J or --proxy-command, not both"}
	}
	target, err := remote.ParseTarget(connect, localUser(), remote.DefaultPort)
	if err != nil {
		return fmt.Errorf("--connect: %w", err)
	}
	if jump != "" {
		proxy, err = jumpCommand(jump)
		if err != nil {
			return err
		}
	}
	if knownHosts == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("find known_hosts: %w (set $HOME or --known-hosts)", err)
		}
		knownHosts = filepath.Join(home, ".ssh", "known_hosts")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	prompt, err := newTTYPrompt(ctx)
	if err != nil {
		return err
	}
	defer prompt.close()
	svc, err := remote.Connect(ctx, remote.Options{
		Target: target, KnownHosts: knownHosts, ProxyCommand: proxy, Prompt: prompt,
		Version: version, AgentSocket: os.Getenv("SSH_AUTH_SOCK"),
	})
	if err != nil && ctx.Err() != nil {
		return exitError{code: 130, msg: "interrupted: not connected"}
	}
	if err != nil {
		return err
	}
	defer svc.Close()
	prompt.close() // the app owns the terminal from here

	cwd, err := os.Getwd()
	if err != nil {
		cwd = ""
	}
	model := tui.New(svc, tui.Options{
		Actor: target.User, Repo: repo, Context: ctx,
		Local: &tui.Local{Pager: pager(), Dir: cwd, Copy: true},
	})
	if _, err := tea.NewProgram(model, tea.WithContext(ctx)).Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("run the app: %w", err)
	}
	return nil
}

// jumpCommand reaches the daemon through OpenSSH's own -W, so the jump
// host's keys, agent and ssh_config work as they do for ssh -J.
// $PATCHGIT_SSH_COMMAND replaces "ssh" (like GIT_SSH_COMMAND), e.g. to
// add -F or -i.
func jumpCommand(jump string) (string, error) {
	j, err := remote.ParseTarget(jump, localUser(), 22)
	if err != nil {
		return "", fmt.Errorf("-J: %w", err)
	}
	sshCmd := os.Getenv("PATCHGIT_SSH_COMMAND")
	if sshCmd == "" {
		sshCmd = "ssh"
	}
	return fmt.Sprintf("%s -W '[%%h]:%%p' -p %d %s", sshCmd, j.Port, shellQuote(j.User+"@"+j.Host)), nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func localUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

// pager is $PAGER, else less, as git does.
func pager() string {
	if p := os.Getenv("PAGER"); p != "" {
		return p
	}
	return "less"
}

// ttyPrompt asks on the controlling terminal (as ssh does), so the PIN is
// never read from a pipe by accident. ctrl+c while it waits gives the
// terminal back as it was (echo on) and stops.
type ttyPrompt struct {
	ctx context.Context //nolint:containedctx // the prompts' lifetime
	tty *os.File
	in  *bufio.Reader
}

func newTTYPrompt(ctx context.Context) (*ttyPrompt, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open the terminal: %w: patchgit tui needs one (for the PIN and the app)", err)
	}
	return &ttyPrompt{ctx: ctx, tty: tty, in: bufio.NewReader(tty)}, nil
}

func (p *ttyPrompt) Say(line string) { fmt.Fprintln(p.tty, line) }

func (p *ttyPrompt) Ask(question string) (string, error) {
	fmt.Fprint(p.tty, question)
	return p.wait(func() (string, error) {
		line, err := p.in.ReadString('\n')
		return trimNewline(line), err
	})
}

func (p *ttyPrompt) Secret(prompt string) (string, error) {
	fmt.Fprint(p.tty, prompt)
	fd := int(p.tty.Fd())
	return p.wait(func() (string, error) {
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(p.tty)
		return string(b), err
	})
}

// wait runs read until it answers or ctx ends (ctrl+c, SIGTERM); then the
// terminal's state from before is restored.
func (p *ttyPrompt) wait(read func() (string, error)) (string, error) {
	fd := int(p.tty.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("read the terminal: %w", err)
	}
	type answer struct {
		s   string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		s, err := read()
		ch <- answer{s, err}
	}()
	select {
	case a := <-ch:
		return a.s, a.err
	case <-p.ctx.Done():
		term.Restore(fd, state) //nolint:errcheck // best effort on the way out
		fmt.Fprintln(p.tty)
		return "", fmt.Errorf("interrupted: %w", context.Cause(p.ctx))
	}
}

func (p *ttyPrompt) close() {
	if p.tty != nil {
		p.tty.Close()
		p.tty = nil
	}
}

func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
