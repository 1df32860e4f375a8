package gitops

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// userinfoRE matches the user[:password]@ part of URLs in git's messages.
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@`)

// redact removes URL userinfo and every known secret from s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 3 { // shorter ones would garble every message
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return userinfoRE.ReplaceAllString(s, "${1}[redacted]@")
}

// checkRemote refuses remotes that could inject options or carry
// credentials. An http(s) URL may not hold any userinfo: a lone "user"
// there is often a token (https://<token>@github.com/...).
func checkRemote(remote string) error {
	if remote == "" {
		return fmt.Errorf("%w: empty remote: give a URL or a path", ErrBadArgument)
	}
	if strings.HasPrefix(remote, "-") {
		return fmt.Errorf("%w: remote %q starts with '-'", ErrBadArgument, remote)
	}
	if strings.ContainsAny(remote, "\x00\n\r") {
		return fmt.Errorf("%w: remote contains a control character", ErrBadArgument)
	}
	if !strings.Contains(remote, "://") {
		return nil // a path or scp-like user@host:path (no password syntax)
	}
	u, err := url.Parse(remote)
	if err != nil {
		return fmt.Errorf("%w: remote is not a valid URL: %v", ErrBadArgument, redact(err.Error(), nil))
	}
	if u.User == nil {
		return nil
	}
	if _, hasPass := u.User.Password(); hasPass {
		return fmt.Errorf("%w: remove it from the URL and configure it as the repository's token", ErrCredentialsInURL)
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return fmt.Errorf("%w: an http(s) URL must not name a user (it is often a token): configure the username and token separately", ErrCredentialsInURL)
	}
	return nil
}

// checkCredentialTransport refuses to send credentials anywhere but https,
// or plain http on loopback (a local forge, tests).
func checkCredentialTransport(remote string) error {
	u, err := url.Parse(remote)
	if err != nil || !strings.Contains(remote, "://") {
		return fmt.Errorf("%w: credentials are only sent to http(s) remotes, not %q", ErrBadArgument, redact(remote, nil))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%w: refusing to send credentials over plain http to %s: use https", ErrBadArgument, u.Host)
	}
	return fmt.Errorf("%w: credentials are only sent to http(s) remotes, not %s://", ErrBadArgument, u.Scheme)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
