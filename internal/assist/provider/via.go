package provider

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
)

// anthropicDefaultBase is the Messages API's public endpoint (the SDK's
// default), whose path Via keeps.
const anthropicDefaultBase = "https://api.anthropic.com"

// Via returns p with its requests sent through client to http://addr
// instead of its base URL's scheme and host, keeping the base URL's path
// (".../v1"), name, key, timeout and retries. The helper tier uses it with
// a client whose connections are SSH channels to the model server on the
// helper, and addr that server's address as the helper sees it: addr must
// be a loopback host:port, since the hop is plain HTTP.
func Via(p Provider, addr string, client *http.Client) (Provider, error) {
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("%w: provider %q: address %q is not a loopback host:port", ErrConfig, p.Name(), addr)
	}
	if client == nil {
		return nil, fmt.Errorf("%w: provider %q: Via needs the HTTP client that reaches %s", ErrConfig, p.Name(), addr)
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
		o.httpClient = client
		return o
	}
	switch q := p.(type) {
	case *openAIProvider:
		return newOpenAI(rebase(q.opts, ""), q.key), nil
	case *anthropicProvider:
		return newAnthropic(rebase(q.opts, anthropicDefaultBase), q.key), nil
	}
	return nil, fmt.Errorf("%w: provider %q (%T) cannot be sent through a tunnel", ErrConfig, p.Name(), p)
}

// client is the HTTP client the SDK sends with: Via's, or a plain one.
func (o Options) client() *http.Client {
	if o.httpClient != nil {
		return o.httpClient
	}
	return &http.Client{}
}
