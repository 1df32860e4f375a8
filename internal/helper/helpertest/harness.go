package helpertest

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/helper"
)

// DOHarness is the fake DigitalOcean API whose droplets boot as real sshds
// on loopback: when a droplet turns active, the harness plays cloud-init
// and starts sshd with the host key from the user data the fake received
// and the account key the droplet was created with.
type DOHarness struct {
	Fake   *FakeDO
	Signer ssh.Signer // the control plane's key
	Port   int        // the helpers' sshd port (the provider's SSH port setting)

	// HostKeyFor, when set, replaces the user data a droplet boots with
	// (an impostor host).
	HostKeyFor func(userData string) string

	t     testing.TB
	dir   string
	mu    sync.Mutex
	sshds map[int]*SSHD
}

// NewDOHarness starts the fake API (plain HTTP); droplets boot on demand.
func NewDOHarness(t testing.TB) *DOHarness { return newDOHarness(t, NewFakeDO(t)) }

// NewDOHarnessTLS is the same over HTTPS (Fake.CAFile for the client).
func NewDOHarnessTLS(t testing.TB) *DOHarness { return newDOHarness(t, NewFakeDOTLS(t)) }

func newDOHarness(t testing.TB, fake *FakeDO) *DOHarness {
	h := &DOHarness{t: t, Fake: fake, dir: t.TempDir(), Signer: ClientKey(t), Port: FreePort(t), sshds: map[int]*SSHD{}}
	h.Fake.OnActive = func(d *Droplet) string {
		var authorized string
		for _, k := range h.Fake.keys {
			for _, want := range d.SSHKeys {
				if fingerprintOf(want) == k.Fingerprint {
					authorized = k.PublicKey
				}
			}
		}
		if authorized == "" {
			t.Errorf("droplet %s was created without the registered key (%v)", d.Name, d.SSHKeys)
		}
		userData := d.UserData
		if h.HostKeyFor != nil {
			userData = h.HostKeyFor(userData)
		}
		priv, _, err := helper.HostKeyFromUserData(userData)
		if err != nil {
			t.Errorf("cloud-init of %s: %v", d.Name, err)
			return ""
		}
		s := BootSSHD(t, filepath.Join(h.dir, d.Name), h.Port, priv, authorized)
		h.mu.Lock()
		h.sshds[d.ID] = s
		h.mu.Unlock()
		return "127.0.0.1"
	}
	h.Fake.OnDelete = func(d *Droplet) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if s := h.sshds[d.ID]; s != nil {
			s.Stop()
		}
	}
	return h
}

// URL is the fake API's base URL (helper.digitalocean.api_url).
func (h *DOHarness) URL() string { return h.Fake.Srv.URL }

// Provider is the real DigitalOcean provider through godo, pointed at the
// fake, logging in as the current user, working in remoteDir, with short
// waits.
func (h *DOHarness) Provider(remoteDir string) *helper.DigitalOcean {
	return NewProvider(h.t, h.URL(), h.Fake.Token, h.Signer, h.Port, remoteDir)
}

// NewProvider is the real DigitalOcean provider through godo against the
// API at url, logging in as the current user on port with signer, working
// in remoteDir, with short waits.
func NewProvider(t testing.TB, url, token string, signer ssh.Signer, port int, remoteDir string) *helper.DigitalOcean {
	client, err := helper.NewDigitalOceanClient(token, url)
	if err != nil {
		t.Fatal(err)
	}
	p, err := helper.NewDigitalOcean(helper.DigitalOceanConfig{
		Client: client, Region: "fra1", Image: "debian-12-x64",
		SSHPort: port, SSHUser: CurrentUser(t), RemoteDir: remoteDir, Signer: signer,
		Backoff: 10 * time.Millisecond, MaxWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fingerprintOf reads the fingerprint out of a create request's ssh_keys
// entry (godo sends {"fingerprint": "..."}, printed as map[fingerprint:...]).
func fingerprintOf(entry string) string {
	entry = strings.TrimPrefix(entry, "map[fingerprint:")
	return strings.TrimSuffix(entry, "]")
}
