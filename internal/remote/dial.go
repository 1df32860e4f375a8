package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/patchgit/patchgit/internal/rpc"
)

const (
	// rpcCommand is the exec request the daemon answers with the protocol.
	rpcCommand = "rpc"
	// pinTries matches the daemon's MaxAuthTries and OpenSSH's prompts.
	pinTries = 3
	// keepaliveEvery and keepaliveWait notice a connection that died
	// without a word (a laptop lid, a dropped route).
	keepaliveEvery = 15 * time.Second
	keepaliveWait  = 10 * time.Second
	// redialLimit bounds one reconnection attempt, handshake included
	// (x/crypto's handshake itself has no deadline).
	redialLimit = 30 * time.Second
)

// Options configure Connect.
type Options struct {
	Target Target
	// KnownHosts is the OpenSSH known_hosts file to check and extend.
	KnownHosts string
	// ProxyCommand, when set, is run by sh and its stdin/stdout used as the
	// connection (as OpenSSH's ProxyCommand; %h, %p and %r are replaced).
	ProxyCommand string
	// Prompt asks for the host key and the PIN.
	Prompt Prompter
	// Version is this client's version, sent in the handshake.
	Version string
	// AgentSocket is $SSH_AUTH_SOCK: its keys are offered when the daemon
	// asks for a key. "" offers none.
	AgentSocket string
}

// dialer logs in again and again with what the first login learned: the
// host key it verified and the PIN the person typed (kept in this
// process's memory only, so a reconnect asks nothing).
type dialer struct {
	opts Options

	mu      sync.Mutex
	hostKey ssh.PublicKey // pinned after the first login
	pin     string
}

// link is one live connection: the ssh client, its rpc channel and the
// protocol client on top.
type link struct {
	ssh  *ssh.Client
	rpc  *rpc.Client
	done chan struct{} // closed when the connection is gone
	once sync.Once
}

func (l *link) close() {
	l.once.Do(func() {
		// The TCP connection first: on a stuck network, closing the
		// channel politely could block.
		l.ssh.Close()
		l.rpc.Close()
	})
}

func (l *link) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// dial logs in and opens the rpc channel. first: the person is at the
// prompt (asked for an unknown host key and the PIN, up to pinTries times);
// otherwise nothing is asked and the host key must be the pinned one.
func (d *dialer) dial(ctx context.Context, first bool) (*link, error) {
	t := d.opts.Target
	conn, err := d.transport(ctx)
	if err != nil {
		return nil, err
	}
	cfg, pinAsked := d.config(first)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, t.Addr(), cfg)
	if !stop() {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("connect to %s: %w", t, ctx.Err())
	}
	if err != nil {
		conn.Close()
		// x/crypto says these only in text: out of methods to try, or the
		// daemon's MaxAuthTries reached.
		if msg := err.Error(); *pinAsked && (strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "too many authentication failures")) {
			d.mu.Lock()
			d.pin = ""
			d.mu.Unlock()
			return nil, fmt.Errorf("log in to %s: %w (wrong PIN, or too many attempts: wait and try again)", t, ErrPINRefused)
		}
		return nil, fmt.Errorf("log in to %s: %w", t, unwrapHandshake(err))
	}
	client := ssh.NewClient(c, chans, reqs)
	l, err := d.openRPC(ctx, client)
	if err != nil {
		client.Close()
		return nil, err
	}
	go func() {
		client.Wait()
		close(l.done)
	}()
	go keepalive(client, l.done)
	return l, nil
}

// unwrapHandshake drops x/crypto's "ssh: handshake failed: " prefix when
// our own host key error is inside, so the person reads that first.
func unwrapHandshake(err error) error {
	for _, own := range []error{ErrHostKeyChanged, ErrHostKeyNotAccepted, ErrHostKeyRevoked} {
		if errors.Is(err, own) {
			var inner error = err
			for u := errors.Unwrap(inner); u != nil && u != own && errors.Is(u, own); u = errors.Unwrap(inner) {
				inner = u
			}
			return inner
		}
	}
	return err
}

func (d *dialer) config(first bool) (*ssh.ClientConfig, *bool) {
	asked := new(bool)
	hostKey := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		d.mu.Lock()
		pinned := d.hostKey
		d.mu.Unlock()
		if pinned != nil {
			if !bytes.Equal(pinned.Marshal(), key.Marshal()) {
				return changedKey(hostname, key, "this session's first connection", 0, ssh.FingerprintSHA256(pinned))
			}
			return nil
		}
		if !first {
			return fmt.Errorf("connect to %s: no verified host key: %w", hostname, ErrHostKeyNotAccepted)
		}
		hk := &hostKeys{path: d.opts.KnownHosts, ask: d.opts.Prompt}
		if err := hk.check(hostname, remote, key); err != nil {
			return err
		}
		d.mu.Lock()
		d.hostKey = key
		d.mu.Unlock()
		return nil
	}
	tries := 1
	if first {
		tries = pinTries
	}
	var methods []ssh.AuthMethod
	if signers := d.agentSigners(); signers != nil {
		methods = append(methods, ssh.PublicKeysCallback(signers))
	}
	methods = append(methods, ssh.RetryableAuthMethod(ssh.KeyboardInteractive(d.answer(first, asked)), tries))
	return &ssh.ClientConfig{
		User:            d.opts.Target.User,
		Auth:            methods,
		HostKeyCallback: hostKey,
		ClientVersion:   "SSH-2.0-PatchGit-" + strings.ReplaceAll(d.opts.Version, " ", "_"),
		Timeout:         30 * time.Second,
	}, asked
}

// answer answers the daemon's keyboard-interactive questions: a hidden
// one is the PIN. A second question on the same connection means the last
// answer was wrong, so the person is asked again (first login only).
func (d *dialer) answer(first bool, asked *bool) ssh.KeyboardInteractiveChallenge {
	return func(_, instruction string, questions []string, echos []bool) ([]string, error) {
		answers := make([]string, len(questions))
		for i, q := range questions {
			if i < len(echos) && echos[i] {
				if !first {
					return nil, fmt.Errorf("the daemon asks %q, which only the person can answer: %w", q, ErrPINRefused)
				}
				a, err := d.opts.Prompt.Ask(q)
				if err != nil {
					return nil, err
				}
				answers[i] = a
				continue
			}
			d.mu.Lock()
			pin, retry := d.pin, *asked
			d.mu.Unlock()
			if pin == "" || retry {
				if !first {
					return nil, fmt.Errorf("the daemon asks for the PIN again: %w", ErrPINRefused)
				}
				if retry {
					d.opts.Prompt.Say("Wrong PIN, try again.")
				}
				if instruction != "" {
					d.opts.Prompt.Say(instruction)
				}
				p, err := d.opts.Prompt.Secret(fmt.Sprintf("%s %s", d.opts.Target, q))
				if err != nil {
					return nil, fmt.Errorf("read the PIN: %w", err)
				}
				pin = p
				d.mu.Lock()
				d.pin = p
				d.mu.Unlock()
			}
			*asked = true
			answers[i] = pin
		}
		return answers, nil
	}
}

// agentSigners offers the agent's keys, or nil without an agent.
func (d *dialer) agentSigners() func() ([]ssh.Signer, error) {
	if d.opts.AgentSocket == "" {
		return nil
	}
	return func() ([]ssh.Signer, error) {
		conn, err := net.Dial("unix", d.opts.AgentSocket)
		if err != nil {
			return nil, nil // no agent after all: nothing to offer
		}
		// The connection serves the signatures during this login; it is
		// closed with the process (logins are rare).
		return agent.NewClient(conn).Signers()
	}
}

// transport is a TCP connection, or the proxy command's stdin and stdout.
func (d *dialer) transport(ctx context.Context) (net.Conn, error) {
	t := d.opts.Target
	if d.opts.ProxyCommand == "" {
		var nd net.Dialer
		conn, err := nd.DialContext(ctx, "tcp", t.Addr())
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", t, err)
		}
		return conn, nil
	}
	line := strings.NewReplacer("%h", t.Host, "%p", strconv.Itoa(t.Port), "%r", t.User, "%%", "%").Replace(d.opts.ProxyCommand)
	return startProxy(line, t)
}

// openRPC asks for the rpc channel and does the protocol handshake.
func (d *dialer) openRPC(ctx context.Context, client *ssh.Client) (*link, error) {
	t := d.opts.Target
	sess, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("open a session on %s: %w", t, err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr := &capped{max: 4 << 10}
	sess.Stderr = stderr
	if err := sess.Start(rpcCommand); err != nil {
		return nil, fmt.Errorf("start rpc on %s: %w", t, err)
	}
	cl, err := rpc.NewClient(ctx, &channel{Reader: stdout, w: stdin, sess: sess}, d.opts.Version)
	if err != nil {
		// The daemon's stderr (why it hung up) is copied by a goroutine
		// that may lag behind stdout's end: let it finish.
		waited := make(chan struct{})
		go func() {
			sess.Wait() //nolint:errcheck // only waiting for the output
			close(waited)
		}()
		select {
		case <-waited:
		case <-time.After(2 * time.Second):
		}
		if errors.Is(err, rpc.ErrVersionMismatch) {
			return nil, fmt.Errorf("connect to the daemon at %s: %w", t, err)
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("connect to %s: %w: it says %q (is it a patchgit daemon of this version or later?)", t, ErrNoRPC, msg)
		}
		return nil, fmt.Errorf("connect to %s: %w", t, err)
	}
	return &link{ssh: client, rpc: cl, done: make(chan struct{})}, nil
}

// channel is the rpc exec channel as an io.ReadWriteCloser.
type channel struct {
	io.Reader
	w    io.WriteCloser
	sess *ssh.Session
}

func (c *channel) Write(p []byte) (int, error) { return c.w.Write(p) }
func (c *channel) Close() error                { return c.sess.Close() }

// keepalive closes the client when the daemon stops answering.
func keepalive(c *ssh.Client, done <-chan struct{}) {
	tick := time.NewTicker(keepaliveEvery)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				c.Close()
				return
			}
		case <-time.After(keepaliveWait):
			c.Close()
			return
		case <-done:
			return
		}
	}
}

// capped keeps the first max bytes written (the daemon's stderr).
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// proxyConn is a proxy command's stdin and stdout as a net.Conn.
type proxyConn struct {
	cmd    *exec.Cmd
	r      io.ReadCloser
	w      io.WriteCloser
	remote proxyAddr
	once   sync.Once
}

func startProxy(line string, t Target) (net.Conn, error) {
	cmd := exec.Command("sh", "-c", line)
	cmd.Stderr = os.Stderr // its own prompts and errors (e.g. ssh -J's)
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start proxy command %q: %w", line, err)
	}
	return &proxyConn{cmd: cmd, r: r, w: w, remote: proxyAddr(t.Addr())}, nil
}

func (p *proxyConn) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *proxyConn) Write(b []byte) (int, error) { return p.w.Write(b) }

func (p *proxyConn) Close() error {
	p.once.Do(func() {
		p.w.Close()
		p.r.Close()
		if p.cmd.Process != nil {
			p.cmd.Process.Kill()
		}
		go p.cmd.Wait() //nolint:errcheck // killed on purpose
	})
	return nil
}

func (p *proxyConn) LocalAddr() net.Addr              { return proxyAddr("proxy-command") }
func (p *proxyConn) RemoteAddr() net.Addr             { return p.remote }
func (p *proxyConn) SetDeadline(time.Time) error      { return nil }
func (p *proxyConn) SetReadDeadline(time.Time) error  { return nil }
func (p *proxyConn) SetWriteDeadline(time.Time) error { return nil }

// proxyAddr is the target's host:port, so known_hosts checks the name the
// person typed.
type proxyAddr string

func (a proxyAddr) Network() string { return "proxy" }
func (a proxyAddr) String() string  { return string(a) }
