// Package remote is the client side of `patchgit tui --connect`: it logs in
// to a daemon over SSH (known_hosts, the PIN asked in the local terminal, an
// agent's keys if one runs, an optional proxy command for jump hosts),
// opens the daemon's `rpc` channel and offers core.Service over it, and
// reconnects with backoff when the connection drops.
package remote

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// safeName is what a host (names, IPv4, IPv6 with a zone) or a user may
// hold.
var safeName = regexp.MustCompile(`^[A-Za-z0-9._+%:-]+$`)

// DefaultPort is `patchgit serve`'s SSH port.
const DefaultPort = 2222

// Target is where to log in: [user@]host[:port].
type Target struct {
	User string
	Host string
	Port int
}

// ParseTarget reads [user@]host[:port]; an IPv6 host with a port goes in
// brackets ([::1]:2222). user defaults to defaultUser, the port to
// defaultPort.
func ParseTarget(s, defaultUser string, defaultPort int) (Target, error) {
	t := Target{User: defaultUser, Port: defaultPort}
	rest := s
	if at := strings.LastIndex(s, "@"); at >= 0 {
		t.User, rest = s[:at], s[at+1:]
		if t.User == "" {
			return Target{}, fmt.Errorf("%w %q: the user before @ is empty", ErrBadTarget, s)
		}
	}
	host, port := rest, ""
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.Index(rest, "]")
		if end < 0 {
			return Target{}, fmt.Errorf("%w %q: an opening [ without ]", ErrBadTarget, s)
		}
		host, port = rest[1:end], strings.TrimPrefix(rest[end+1:], ":")
		if rest[end+1:] != "" && !strings.HasPrefix(rest[end+1:], ":") {
			return Target{}, fmt.Errorf("%w %q: want [host]:port", ErrBadTarget, s)
		}
	case strings.Count(rest, ":") == 1:
		host, port, _ = strings.Cut(rest, ":")
	}
	if host == "" {
		return Target{}, fmt.Errorf("%w %q: no host: want [user@]host[:port]", ErrBadTarget, s)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, fmt.Errorf("%w %q: port %q is not a number from 1 to 65535", ErrBadTarget, s, port)
		}
		t.Port = n
	}
	if t.User == "" {
		return Target{}, fmt.Errorf("%w %q: no user: write user@host", ErrBadTarget, s)
	}
	// Names go into a proxy command line: refuse anything a shell would
	// read as more than a name.
	if !safeName.MatchString(host) {
		return Target{}, fmt.Errorf("%w %q: the host %q has characters no host name has", ErrBadTarget, s, host)
	}
	if !safeName.MatchString(t.User) {
		return Target{}, fmt.Errorf("%w %q: the user %q has characters other than letters, digits and . _ + -", ErrBadTarget, s, t.User)
	}
	t.Host = host
	return t, nil
}

// Addr is host:port for dialing.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String is user@host:port, as shown to the person.
func (t Target) String() string { return t.User + "@" + t.Addr() }
