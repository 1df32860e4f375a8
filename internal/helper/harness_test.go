package helper

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/store"
)

// doHarness is the fake DigitalOcean API with real sshds behind its
// droplets, and the control plane's store, audit log and key.
type doHarness struct {
	t      *testing.T
	fake   *fakeDO
	dir    string
	signer ssh.Signer
	port   int // the helpers' sshd port (the provider's SSH port setting)

	mu    sync.Mutex
	sshds map[int]*helperSSHD
	// hostKeyFor, when set, replaces the user data sshd boots with (an
	// impostor host).
	hostKeyFor func(userData string) string
}

func newDOHarness(t *testing.T) *doHarness {
	h := &doHarness{t: t, fake: newFakeDO(t), dir: t.TempDir(), signer: clientKey(t), port: freePort(t), sshds: map[int]*helperSSHD{}}
	h.fake.onActive = func(d *fakeDroplet) string {
		// cloud-init: the droplet boots with the host key from its user
		// data and the account key it was created with.
		var authorized string
		for _, k := range h.fake.keys {
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
		if h.hostKeyFor != nil {
			userData = h.hostKeyFor(userData)
		}
		dir := filepath.Join(h.dir, d.Name)
		must(t, mkdir(dir))
		s := bootSSHD(t, dir, h.port, userData, authorized)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("sshd of %s:\n%s", d.Name, s.log())
			}
		})
		h.mu.Lock()
		h.sshds[d.ID] = s
		h.mu.Unlock()
		return "127.0.0.1"
	}
	h.fake.onDelete = func(d *fakeDroplet) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if s := h.sshds[d.ID]; s != nil {
			s.stop()
		}
	}
	return h
}

// provider is the real DigitalOcean provider through godo, pointed at the
// fake, with short waits.
func (h *doHarness) provider() *DigitalOcean {
	return newTestProvider(h.t, h.fake.srv.URL, h.fake.token, h.signer, h.port)
}

func newTestProvider(t testing.TB, url, token string, signer ssh.Signer, port int) *DigitalOcean {
	client, err := NewDigitalOceanClient(token, url)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewDigitalOcean(DigitalOceanConfig{
		Client: client, Region: "fra1", Image: "debian-12-x64",
		SSHPort: port, SSHUser: currentUser(t), RemoteDir: filepath.Join(t.TempDir(), "work"), Signer: signer, Backoff: 10 * time.Millisecond, MaxWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openStore opens the control plane's store and audit log in dir.
func openStore(t testing.TB, dir string) (*store.DB, *audit.Log) {
	db, err := store.Open(filepath.Join(dir, "patchgit.db"), store.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db, audit.New(db, filepath.Join(dir, "audit.head"))
}

func testManager(t testing.TB, db *store.DB, log *audit.Log, p Provider, meter Meter, now func() time.Time) *Manager {
	m, err := NewManager(db, p, Options{Instance: "test", Audit: log, Meter: meter, TTL: time.Hour,
		ReadyTimeout: 20 * time.Second, Poll: 20 * time.Millisecond, ConfirmFor: 10 * time.Second, Now: now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// recordingMeter records the meter calls.
type recordingMeter struct {
	mu     sync.Mutex
	calls  []string
	refuse error // for Start
	stop   error // for Extend: the budget's stop signal
}

func (r *recordingMeter) add(kind string, c Charge) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, kind+" "+c.Size)
	if kind == "start" {
		return r.refuse
	}
	if kind == "extend" {
		return r.stop
	}
	return nil
}
func (r *recordingMeter) Start(_ context.Context, c Charge) error  { return r.add("start", c) }
func (r *recordingMeter) Extend(_ context.Context, c Charge) error { return r.add("extend", c) }
func (r *recordingMeter) Stop(_ context.Context, c Charge) error   { return r.add("stop", c) }

func (r *recordingMeter) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o700) }

// fingerprintOf reads the fingerprint out of a create request's ssh_keys
// entry (godo sends {"fingerprint": "..."}, printed as map[fingerprint:...]).
func fingerprintOf(entry string) string {
	entry = strings.TrimPrefix(entry, "map[fingerprint:")
	return strings.TrimSuffix(entry, "]")
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// helperSpend is what the ledger settled for one helper (its entries
// name it), and that nothing of it is still reserved.
func helperSpend(t testing.TB, l *budget.Ledger, helper string) budget.Micros {
	t.Helper()
	st, err := l.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Open {
		if strings.HasPrefix(r.Purpose, purposePrefix(helper)) {
			t.Fatalf("reservation %+v still open", r)
		}
	}
	if len(st.Recent) >= 10 { // Status shows the last 10: the sum would miss some
		t.Fatalf("%d recent spends: too many to sum here", len(st.Recent))
	}
	var sum budget.Micros
	for _, s := range st.Recent {
		if strings.HasPrefix(s.Purpose, purposePrefix(helper)) {
			sum += s.Amount
		}
	}
	return sum
}
