package helper

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"
)

// remoteDir is where a helper keeps uploaded files and runs commands.
const remoteDir = "/var/lib/patchgit-helper"

// SSHTarget says how to reach a helper over SSH.
type SSHTarget struct {
	Address string        // host or IP
	Port    int           // default 22
	User    string        // default root
	Signer  ssh.Signer    // the control plane's key
	HostKey ssh.PublicKey // pinned; required
	Dir     string        // work directory on the host; default remoteDir
}

// dialSSH connects with the pinned host key: any other key is refused.
func dialSSH(ctx context.Context, t SSHTarget) (*sshConn, error) {
	if t.HostKey == nil {
		return nil, fmt.Errorf("dial helper: %w: no pinned host key", ErrBadConfig)
	}
	if t.Signer == nil {
		return nil, fmt.Errorf("dial helper: %w: no client key", ErrBadConfig)
	}
	port, user, dir := t.Port, t.User, t.Dir
	if port == 0 {
		port = 22
	}
	if user == "" {
		user = "root"
	}
	if dir == "" {
		dir = remoteDir
	}
	cfg := &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(t.Signer)},
		HostKeyCallback:   ssh.FixedHostKey(t.HostKey),
		HostKeyAlgorithms: []string{t.HostKey.Type()},
		Timeout:           15 * time.Second,
	}
	addr := net.JoinHostPort(t.Address, strconv.Itoa(port))
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial helper %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	c, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("dial helper %s: %w", addr, err)
	}
	raw.SetDeadline(time.Time{})
	conn := &sshConn{client: ssh.NewClient(c, chans, reqs), dir: dir}
	if err := conn.run(ctx, "mkdir -p "+shellQuote(dir), nil, io.Discard, io.Discard); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

type sshConn struct {
	client *ssh.Client
	dir    string
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Upload streams r into dir/name through `cat` (no SFTP subsystem needed).
func (c *sshConn) Upload(ctx context.Context, r io.Reader, name string, mode uint32) error {
	if !safeName.MatchString(name) {
		return fmt.Errorf("upload %q: %w: use letters, digits, '.', '_' or '-'", name, ErrBadConfig)
	}
	path := shellQuote(c.dir + "/" + name)
	tmp := shellQuote(c.dir + "/." + name + ".part")
	cmd := fmt.Sprintf("cat > %s && chmod %o %s && mv -f %s %s", tmp, mode&0o777, tmp, tmp, path)
	if err := c.run(ctx, cmd, r, io.Discard, io.Discard); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	return nil
}

// Run runs command in the work directory.
func (c *sshConn) Run(ctx context.Context, command string, stdout, stderr io.Writer) error {
	return c.run(ctx, "cd "+shellQuote(c.dir)+" && "+command, nil, stdout, stderr)
}

func (c *sshConn) run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) error {
	s, err := c.client.NewSession()
	if err != nil {
		return fmt.Errorf("open helper session: %w", err)
	}
	defer s.Close()
	var errTail bytes.Buffer
	s.Stdin, s.Stdout = stdin, stdout
	s.Stderr = io.MultiWriter(stderr, &tailWriter{buf: &errTail, max: 2048})
	done := make(chan error, 1)
	go func() { done <- s.Run(command) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("run on helper: %w: %s", err, bytes.TrimSpace(errTail.Bytes()))
		}
		return nil
	case <-ctx.Done():
		s.Signal(ssh.SIGKILL)
		s.Close()
		return fmt.Errorf("run on helper: %w", ctx.Err())
	}
}

func (c *sshConn) Close() error { return c.client.Close() }

// tailWriter keeps the first max bytes of stderr for error messages.
type tailWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + string(bytes.ReplaceAll([]byte(s), []byte("'"), []byte(`'\''`))) + "'"
}
