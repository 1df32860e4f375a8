package helper_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"github.com/patchgit/patchgit/internal/store"
)

// The whole lifecycle through godo against the fake API, with 429s and 5xx
// on the way, and a real sshd that only has the host key from the user
// data: size chosen, tags set, one create despite a 503 on it, upload and
// run over SSH with the pinned key, a second helper refused, destroy
// confirmed, audited with its cost, metered start to stop.
func TestDigitalOceanLifecycle(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	h.Fake.Fail("GET", "/v2/sizes", 429, 2)
	h.Fake.Fail("POST", "/v2/droplets", 503, 1)
	h.Fake.Fail("GET", "/v2/droplets/", 500, 1)
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	meter := &recordingMeter{}
	m := testManager(t, db, log, h.Provider(t.TempDir()), meter, nil)
	ctx := context.Background()

	hp, err := m.Acquire(ctx, "job-42", helper.Need{MemoryMB: 2048, VCPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	rec := hp.Record()
	if rec.Size != "s-2vcpu-2gb" || rec.PriceHourly != 26_790 || rec.State != helper.StateActive {
		t.Fatalf("record %+v: want s-2vcpu-2gb at $0.02679 (26,790 micro-dollars, from the API's float), active", rec)
	}
	drops := h.Fake.Alive()
	if len(drops) != 1 || h.Fake.Created() != 1 {
		t.Fatalf("%d droplets alive, %d created; want exactly one (a 503 on create must not make two)", len(drops), h.Fake.Created())
	}
	d := drops[0]
	for _, tag := range []string{"patchgit-helper", "patchgit-instance-test", "patchgit-job-job-42"} {
		if !slices.Contains(d.Tags, tag) {
			t.Errorf("droplet tags %v lack %s", d.Tags, tag)
		}
	}
	if _, pub, err := helper.HostKeyFromUserData(d.UserData); err != nil || pub != rec.HostKey {
		t.Fatalf("user data host key %q (%v), pinned %q", pub, err, rec.HostKey)
	}
	if d.Region != "fra1" || !strings.Contains(d.Image, "debian-12-x64") {
		t.Errorf("region %s image %s", d.Region, d.Image)
	}

	script := "#!/bin/sh\necho \"helper says $1\"\n"
	if err := hp.Upload(ctx, strings.NewReader(script), "hello.sh", 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := hp.Run(ctx, "./hello.sh hi && ls -l hello.sh", &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "helper says hi") || !strings.Contains(out.String(), "-rwxr-xr-x") {
		t.Fatalf("output %q", out.String())
	}
	err = hp.Run(ctx, "echo boom >&2; exit 3", &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("a failing command gave %v, want its stderr in the error", err)
	}

	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = m.Acquire(wctx, "job-43", helper.Need{MemoryMB: 1024, VCPUs: 1})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "wait for the helper slot (helper "+hp.Record().Name+" runs for job job-42") {
		t.Fatalf("second helper: %v, want a wait for the slot held for job-42, ended by its context", err)
	}
	if h.Fake.Created() != 1 {
		t.Fatal("the waiting second helper created a droplet")
	}

	h.Fake.Fail("DELETE", "/v2/droplets/", 429, 1)
	if err := hp.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(h.Fake.Alive()); n != 0 {
		t.Fatalf("%d droplets left after release", n)
	}
	if n := h.Fake.Count("DELETE /v2/droplets/"); n != 2 {
		t.Fatalf("%d deletes, want the rate-limited one and its retry", n)
	}
	if err := hp.Run(ctx, "true", &out, &errOut); !errors.Is(err, helper.ErrReleased) {
		t.Fatalf("run after release: %v, want ErrReleased", err)
	}
	recs, _ := helper.Records(db, true)
	if len(recs) != 1 || recs[0].State != helper.StateDestroyed || recs[0].DestroyedAt.IsZero() {
		t.Fatalf("records %+v", recs)
	}
	if got := meter.list(); !slices.Equal(got, []string{"start s-2vcpu-2gb", "stop s-2vcpu-2gb"}) {
		t.Fatalf("meter calls %v", got)
	}
	kinds := auditKinds(t, db, log)
	for _, want := range []string{"helper.intent", "helper.created", "helper.destroy", "helper.destroyed"} {
		if !slices.Contains(kinds, want) {
			t.Errorf("audit kinds %v lack %s", kinds, want)
		}
	}
	destroyed := auditEntry(t, db, "helper.destroyed")
	if destroyed.Data["cost"] != "$0.01" || destroyed.Data["machine"] != d.Name && destroyed.Data["machine"] == "" {
		t.Errorf("destroyed entry %v: want the minimum charge $0.01 and the machine", destroyed.Data)
	}
	if h.Fake.Count("GET /v2/sizes") < 3 {
		t.Errorf("the 429s on sizes were not retried: %d requests", h.Fake.Count("GET /v2/sizes"))
	}

	// The slot is free again.
	hp2, err := m.Acquire(ctx, "job-44", helper.Need{MemoryMB: 1024, VCPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if hp2.Record().Size != "s-1vcpu-2gb" {
		t.Fatalf("size %s for 1 GB/1 vCPU, want the smallest allowed s-1vcpu-2gb (s-1vcpu-1gb is not allowed)", hp2.Record().Size)
	}
	if err := hp2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A host that answers with any key but the pinned one is never used: the
// acquire fails within the bound and the droplet is destroyed.
func TestDigitalOceanRefusesAnImpostorHostKey(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	h.HostKeyFor = func(string) string {
		other, err := helper.NewHostKey()
		must(t, err)
		ud, err := helper.UserData(other)
		must(t, err)
		return ud
	}
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	m, err := helper.NewManager(db, h.Provider(t.TempDir()), helper.Options{Instance: "test", Audit: log, ReadyTimeout: 3 * time.Second,
		Poll: 50 * time.Millisecond, ConfirmFor: 5 * time.Second, Logger: testLogger(t)})
	must(t, err)
	_, err = m.Acquire(context.Background(), "job-1", helper.Need{MemoryMB: 2048, VCPUs: 1})
	if !errors.Is(err, helper.ErrNotReady) || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("err = %v, want ErrNotReady after a host key mismatch", err)
	}
	if n := len(h.Fake.Alive()); n != 0 {
		t.Fatalf("%d droplets left after a failed acquire", n)
	}
}

// A need above the allow-list is a decision for the person, and nothing is
// created or recorded; a need no size meets is ErrNoSize.
func TestDigitalOceanSizeNeedsApproval(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	m := testManager(t, db, log, h.Provider(t.TempDir()), nil, nil)
	_, err := m.Acquire(context.Background(), "job-1", helper.Need{MemoryMB: 8192, VCPUs: 4})
	var ae *helper.ApprovalError
	if !errors.As(err, &ae) || ae.Size != "s-4vcpu-8gb" || ae.PriceHourly != 71_430 || ae.Cost != 71_430 {
		t.Fatalf("err = %v, want approval for s-4vcpu-8gb at its API price, costing at most its 1 h TTL", err)
	}
	_, err = m.Acquire(context.Background(), "job-1", helper.Need{MemoryMB: 65536})
	if !errors.Is(err, helper.ErrNoSize) {
		t.Fatalf("err = %v, want ErrNoSize", err)
	}
	if h.Fake.Created() != 0 {
		t.Fatal("a refused size created a droplet")
	}
	if recs, _ := helper.Records(db, true); len(recs) != 0 {
		t.Fatalf("refused sizes left records %+v", recs)
	}
}

// The budget refusing the start means no droplet.
func TestMeterRefusalCreatesNothing(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	meter := &recordingMeter{refuse: errors.New("hourly cap reached")}
	m := testManager(t, db, log, h.Provider(t.TempDir()), meter, nil)
	_, err := m.Acquire(context.Background(), "job-1", helper.Need{MemoryMB: 2048})
	if err == nil || !strings.Contains(err.Error(), "hourly cap reached") {
		t.Fatalf("err = %v", err)
	}
	if h.Fake.Created() != 0 || h.Fake.Count("POST /v2/droplets") != 0 {
		t.Fatal("a refused meter still created a droplet")
	}
	recs, _ := helper.Records(db, true)
	if len(recs) != 1 || recs[0].State != helper.StateDestroyed {
		t.Fatalf("records %+v, want the intent closed", recs)
	}
}

// Reconcile destroys a live helper past its TTL, and leaves a young one.
func TestReconcileDestroysPastTTL(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	clock := time.Now()
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	now := func() time.Time { <-mu; defer func() { mu <- struct{}{} }(); return clock }
	meter := &recordingMeter{}
	m := testManager(t, db, log, h.Provider(t.TempDir()), meter, now)
	ctx := context.Background()
	hp, err := m.Acquire(ctx, "job-1", helper.Need{MemoryMB: 2048})
	must(t, err)
	h.Fake.Fail("GET", "/v2/droplets", 503, 1) // the list by tag
	must(t, m.Reconcile(ctx))
	if len(h.Fake.Alive()) != 1 || !slices.Contains(meter.list(), "extend s-1vcpu-2gb") {
		t.Fatalf("a young owned helper was destroyed or not extended: %v", meter.list())
	}
	<-mu
	clock = clock.Add(61 * time.Minute)
	mu <- struct{}{}
	must(t, m.Reconcile(ctx))
	if len(h.Fake.Alive()) != 0 {
		t.Fatal("a helper past its TTL survived reconcile")
	}
	if err := hp.Run(ctx, "true", nil, nil); !errors.Is(err, helper.ErrReleased) || !strings.Contains(err.Error(), "TTL") {
		t.Fatalf("run after TTL: %v", err)
	}
	if e := auditEntry(t, db, "helper.destroyed"); e.Data["reason"] != "past its TTL" || e.Data["seconds"] != "3660" {
		t.Fatalf("destroyed entry %v", e.Data)
	}
}

// Reconcile leaves another install's droplets alone (its tag differs).
func TestReconcileKeepsOtherInstallsHelpers(t *testing.T) {
	h := helpertest.NewDOHarness(t)
	h.Fake.AddDroplet(helpertest.Droplet{ID: 1, Name: "patchgit-other-job", Status: "active",
		Tags: []string{"patchgit-helper", "patchgit-instance-other"}})
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	m := testManager(t, db, log, h.Provider(t.TempDir()), nil, nil)
	must(t, m.Reconcile(context.Background()))
	if len(h.Fake.Alive()) != 1 {
		t.Fatal("reconcile destroyed another install's helper")
	}
}

func auditKinds(t *testing.T, db *store.DB, log *audit.Log) []string {
	t.Helper()
	var kinds []string
	for _, e := range auditEntries(t, db) {
		kinds = append(kinds, e.Kind)
	}
	return kinds
}

func auditEntries(t *testing.T, db *store.DB) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	must(t, db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(store.BucketAudit).ForEach(func(_, v []byte) error {
			var e audit.Entry
			if err := helper.JSONUnmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
	}))
	return out
}

// auditEntry is the last entry of kind.
func auditEntry(t *testing.T, db *store.DB, kind string) audit.Entry {
	t.Helper()
	var last audit.Entry
	for _, e := range auditEntries(t, db) {
		if e.Kind == kind {
			last = e
		}
	}
	if last.Kind == "" {
		t.Fatalf("no %s audit entry", kind)
	}
	return last
}

// A wrong token is a clear 401 that never repeats the token; godo's own
// retries are off (a create is never sent twice behind the provider's back).
func TestDigitalOceanWrongTokenErrorHasNoToken(t *testing.T) {
	f := helpertest.NewFakeDO(t)
	p := helpertest.NewProvider(t, f.Srv.URL, "dop_v1_wrong-secret-123", helpertest.ClientKey(t), 22, t.TempDir())
	_, err := p.Sizes(context.Background())
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("err = %v, want a 401 without the token", err)
	}
	if n := f.Count("GET /v2/sizes"); n != 1 {
		t.Fatalf("%d requests for a 401, want 1 (no retry)", n)
	}
	f.Fail("POST", "/v2/droplets", 500, 100)
	_, err = p.Create(context.Background(), helper.CreateRequest{Name: "x", Size: "s-1vcpu-2gb", Tags: []string{"t"}})
	if err == nil {
		t.Fatal("create with a wrong token succeeded")
	}
	if _, err := helper.NewDigitalOceanClient("", ""); !errors.Is(err, helper.ErrBadConfig) {
		t.Fatalf("empty token: %v", err)
	}
}

// A create whose answer was lost (made, then a 502) is adopted by name on
// the retry instead of making a second droplet.
func TestDigitalOceanLostCreateAnswerIsAdopted(t *testing.T) {
	f := helpertest.NewFakeDO(t)
	f.LoseCreates(1)
	p := helpertest.NewProvider(t, f.Srv.URL, f.Token, helpertest.ClientKey(t), 22, t.TempDir())
	m, err := p.Create(context.Background(), helper.CreateRequest{Name: "patchgit-test-j-1", Size: "s-1vcpu-2gb",
		Tags: []string{helper.TagHelper, "patchgit-instance-test"}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Created() != 1 || m.Name != "patchgit-test-j-1" || m.ID == "" {
		t.Fatalf("created %d, machine %+v; want the one droplet adopted", f.Created(), m)
	}
}
