package helper

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/budget"
)

// DigitalOceanConfig is the DigitalOcean provider's settings.
type DigitalOceanConfig struct {
	Client  *godo.Client // built with the token (and a base URL in tests)
	Region  string       // e.g. fra1
	Image   string       // e.g. debian-12-x64
	SSHPort int          // the helper's sshd port; default 22
	SSHUser string       // default root
	// RemoteDir is the helper's work directory; default /var/lib/patchgit-helper.
	RemoteDir string
	// Signer is the control plane's SSH key; its public half is registered
	// on the account (account/keys) and put on every droplet.
	Signer ssh.Signer
	// Retries on 429 and 5xx (default 5), waiting Backoff doubling (default
	// 1 s) or what Retry-After / RateLimit-Reset says, at most MaxWait.
	Retries int
	Backoff time.Duration
	MaxWait time.Duration // default 60 s
}

// DigitalOcean creates droplets through godo.
type DigitalOcean struct {
	cfg   DigitalOceanConfig
	keyFP string // the account key's fingerprint once registered
}

// NewDigitalOcean checks cfg and returns the provider.
func NewDigitalOcean(cfg DigitalOceanConfig) (*DigitalOcean, error) {
	if cfg.Client == nil || cfg.Signer == nil || cfg.Region == "" || cfg.Image == "" {
		return nil, fmt.Errorf("new digitalocean provider: %w: client, signer, region and image are required", ErrBadConfig)
	}
	if cfg.SSHPort == 0 {
		cfg.SSHPort = 22
	}
	if cfg.SSHUser == "" {
		cfg.SSHUser = "root"
	}
	if cfg.Retries == 0 {
		cfg.Retries = 5
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = time.Minute
	}
	return &DigitalOcean{cfg: cfg}, nil
}

func (d *DigitalOcean) Name() string { return "digitalocean" }

// Sizes lists the sizes available in the region with their hourly price
// (read from the API, never hard-coded).
func (d *DigitalOcean) Sizes(ctx context.Context) ([]Size, error) {
	var out []Size
	opt := &godo.ListOptions{PerPage: 200}
	for {
		var page []godo.Size
		var resp *godo.Response
		err := d.retry(ctx, func() (*godo.Response, error) {
			var err error
			page, resp, err = d.cfg.Client.Sizes.List(ctx, opt)
			return resp, err
		})
		if err != nil {
			return nil, fmt.Errorf("list sizes: %w", err)
		}
		for _, s := range page {
			if !s.Available || !inRegion(s.Regions, d.cfg.Region) {
				continue
			}
			// The API's float price becomes money here, once, rounded up.
			hourly, err := budget.PriceFromUSD(s.PriceHourly)
			if err != nil {
				return nil, fmt.Errorf("list sizes: size %s: %w", s.Slug, err)
			}
			out = append(out, Size{Slug: s.Slug, MemoryMB: s.Memory, VCPUs: s.Vcpus, PriceHourly: hourly})
		}
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() {
			return out, nil
		}
		p, err := resp.Links.CurrentPage()
		if err != nil {
			return out, nil
		}
		opt.Page = p + 1
	}
}

func inRegion(regions []string, region string) bool {
	if len(regions) == 0 {
		return true
	}
	for _, r := range regions {
		if r == region {
			return true
		}
	}
	return false
}

// ensureKey registers the control plane's public key on the account once.
func (d *DigitalOcean) ensureKey(ctx context.Context) (string, error) {
	if d.keyFP != "" {
		return d.keyFP, nil
	}
	fp := ssh.FingerprintLegacyMD5(d.cfg.Signer.PublicKey())
	err := d.retry(ctx, func() (*godo.Response, error) {
		_, resp, err := d.cfg.Client.Keys.GetByFingerprint(ctx, fp)
		return resp, err
	})
	if isStatus(err, http.StatusNotFound) {
		err = d.retry(ctx, func() (*godo.Response, error) {
			_, resp, err := d.cfg.Client.Keys.Create(ctx, &godo.KeyCreateRequest{
				Name: "patchgit-control-plane", PublicKey: string(ssh.MarshalAuthorizedKey(d.cfg.Signer.PublicKey())),
			})
			return resp, err
		})
	}
	if err != nil {
		return "", fmt.Errorf("register ssh key: %w", err)
	}
	d.keyFP = fp
	return fp, nil
}

// Create creates the droplet. A create is not retried blindly on a 5xx or
// a lost answer (that could make two droplets): the name is looked up by
// tag first, and an existing droplet of that name is adopted.
func (d *DigitalOcean) Create(ctx context.Context, req CreateRequest) (Machine, error) {
	fp, err := d.ensureKey(ctx)
	if err != nil {
		return Machine{}, err
	}
	var last error
	for attempt := 0; attempt <= d.cfg.Retries; attempt++ {
		if attempt > 0 {
			if m, ok := d.findByName(ctx, req); ok {
				return m, nil
			}
			if err := sleep(ctx, d.wait(attempt, last)); err != nil {
				return Machine{}, fmt.Errorf("create droplet: %w (last: %v)", err, last)
			}
		}
		drop, _, err := d.cfg.Client.Droplets.Create(ctx, &godo.DropletCreateRequest{
			Name: req.Name, Region: d.cfg.Region, Size: req.Size,
			Image:    godo.DropletCreateImage{Slug: d.cfg.Image},
			SSHKeys:  []godo.DropletCreateSSHKey{{Fingerprint: fp}},
			Tags:     req.Tags,
			UserData: req.UserData,
		})
		if err == nil {
			return d.machine(drop), nil
		}
		if !retryable(err) {
			return Machine{}, fmt.Errorf("create droplet: %w", err)
		}
		last = err
	}
	return Machine{}, fmt.Errorf("create droplet: gave up after %d attempts: %w", d.cfg.Retries+1, last)
}

func (d *DigitalOcean) findByName(ctx context.Context, req CreateRequest) (Machine, bool) {
	if len(req.Tags) == 0 {
		return Machine{}, false
	}
	ms, err := d.ListByTag(ctx, req.Tags[len(req.Tags)-1])
	if err != nil {
		return Machine{}, false
	}
	for _, m := range ms {
		if m.Name == req.Name {
			return m, true
		}
	}
	return Machine{}, false
}

func (d *DigitalOcean) Get(ctx context.Context, id string) (Machine, error) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return Machine{}, fmt.Errorf("get droplet %q: %w", id, ErrNotFound)
	}
	var drop *godo.Droplet
	err = d.retry(ctx, func() (*godo.Response, error) {
		var resp *godo.Response
		var err error
		drop, resp, err = d.cfg.Client.Droplets.Get(ctx, n)
		return resp, err
	})
	if isStatus(err, http.StatusNotFound) {
		return Machine{}, fmt.Errorf("get droplet %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Machine{}, fmt.Errorf("get droplet %s: %w", id, err)
	}
	return d.machine(drop), nil
}

func (d *DigitalOcean) ListByTag(ctx context.Context, tag string) ([]Machine, error) {
	var out []Machine
	opt := &godo.ListOptions{PerPage: 200}
	for {
		var page []godo.Droplet
		var resp *godo.Response
		err := d.retry(ctx, func() (*godo.Response, error) {
			var err error
			page, resp, err = d.cfg.Client.Droplets.ListByTag(ctx, tag, opt)
			return resp, err
		})
		if err != nil {
			return nil, fmt.Errorf("list droplets tagged %s: %w", tag, err)
		}
		for i := range page {
			out = append(out, d.machine(&page[i]))
		}
		if resp == nil || resp.Links == nil || resp.Links.IsLastPage() {
			return out, nil
		}
		p, err := resp.Links.CurrentPage()
		if err != nil {
			return out, nil
		}
		opt.Page = p + 1
	}
}

func (d *DigitalOcean) Destroy(ctx context.Context, id string) error {
	n, err := strconv.Atoi(id)
	if err != nil {
		return fmt.Errorf("destroy droplet %q: %w", id, ErrNotFound)
	}
	err = d.retry(ctx, func() (*godo.Response, error) { return d.cfg.Client.Droplets.Delete(ctx, n) })
	if isStatus(err, http.StatusNotFound) {
		return fmt.Errorf("destroy droplet %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("destroy droplet %s: %w", id, err)
	}
	return nil
}

func (d *DigitalOcean) Connect(ctx context.Context, m Machine, hostKey ssh.PublicKey) (Conn, error) {
	return dialSSH(ctx, SSHTarget{Address: m.Address, Port: d.cfg.SSHPort, User: d.cfg.SSHUser,
		Signer: d.cfg.Signer, HostKey: hostKey, Dir: d.cfg.RemoteDir})
}

func (d *DigitalOcean) machine(drop *godo.Droplet) Machine {
	ip, _ := drop.PublicIPv4()
	return Machine{ID: strconv.Itoa(drop.ID), Name: drop.Name, Status: drop.Status, Address: ip, Tags: drop.Tags}
}

// retry calls fn again on 429 and 5xx answers and on transport errors.
func (d *DigitalOcean) retry(ctx context.Context, fn func() (*godo.Response, error)) error {
	var err error
	for attempt := 0; ; attempt++ {
		_, err = fn()
		if err == nil || !retryable(err) || attempt >= d.cfg.Retries {
			return err
		}
		if serr := sleep(ctx, d.wait(attempt+1, err)); serr != nil {
			return fmt.Errorf("%w (last: %v)", serr, err)
		}
	}
}

// wait is how long to wait before attempt: what the API asked for on a
// 429 (Retry-After, or RateLimit-Reset as a Unix time), else doubling.
func (d *DigitalOcean) wait(attempt int, err error) time.Duration {
	w := d.cfg.Backoff << min(attempt-1, 10)
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusTooManyRequests {
		h := er.Response.Header
		if s, perr := strconv.Atoi(h.Get("Retry-After")); perr == nil && s >= 0 {
			w = time.Duration(s) * time.Second
		} else if reset, perr := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64); perr == nil {
			w = time.Until(time.Unix(reset, 0))
		}
		w = max(w, d.cfg.Backoff)
	}
	return min(w, d.cfg.MaxWait)
}

func retryable(err error) bool {
	var er *godo.ErrorResponse
	if errors.As(err, &er) {
		return er.Response != nil && (er.Response.StatusCode == http.StatusTooManyRequests || er.Response.StatusCode >= 500)
	}
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

func isStatus(err error, code int) bool {
	var er *godo.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == code
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewDigitalOceanClient builds a godo client for token (baseURL "" is the
// real API). It turns godo's own retries off: they would repeat a droplet
// create after a 5xx, and the provider's retry looks the name up first.
func NewDigitalOceanClient(token, baseURL string) (*godo.Client, error) {
	if token == "" {
		return nil, fmt.Errorf("new digitalocean client: %w: the API token is empty (set it as docs/helper.md says)", ErrBadConfig)
	}
	hc := &http.Client{Timeout: 60 * time.Second, Transport: bearer{token: token, next: http.DefaultTransport}}
	var opts []godo.ClientOpt
	if baseURL != "" {
		opts = append(opts, godo.SetBaseURL(strings.TrimRight(baseURL, "/")+"/"))
	}
	c, err := godo.New(hc, opts...)
	if err != nil {
		return nil, fmt.Errorf("new digitalocean client: %w", err)
	}
	return c, nil
}

// bearer adds the token to each request; it never appears in errors.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
