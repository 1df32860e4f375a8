package provider

import (
	"fmt"
	"net"
	"net/url"
)

// anthropicDefaultBase is the Messages API's public endpoint (the SDK's
// default), whose path Via keeps.
const anthropicDefaultBase = "https://api.anthropic.com"

// Via returns p with its requests sent to http://addr instead of its base
// URL's scheme and host, keeping the base URL's path (".../v1"), name, key,
// timeout and retries. The helper tier uses it with the loopback end of an
// SSH forward to the model server on the helper, which changes with every
// stage: addr must be a loopback host:port, since the plain-HTTP hop stays
// on this machine.
func Via(p Provider, addr string) (Provider, error) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: provider %q: forward address %q is not a loopback host:port", ErrConfig, p.Name(), addr)
	}
	rebase := func(o Options, def string) Options {
		base := o.BaseURL
		if base == "" {
			base = def
		}
		u, err := url.Parse(base)
		if err != nil { // New checked it
			u = &url.URL{}
		}
		o.BaseURL = (&url.URL{Scheme: "http", Host: addr, Path: u.Path}).String()
		return o
	}
	switch q := p.(type) {
	case *openAIProvider:
		return newOpenAI(rebase(q.opts, ""), q.key), nil
	case *anthropicProvider:
		return newAnthropic(rebase(q.opts, anthropicDefaultBase), q.key), nil
	}
	return nil, fmt.Errorf("%w: provider %q (%T) cannot be sent through a forward", ErrConfig, p.Name(), p)
}
