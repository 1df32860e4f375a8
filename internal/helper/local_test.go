package helper_test

import (
	"bytes"
	"context"
	"errors"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The local provider: work directory on this machine, upload and run,
// one slot, the directory removed on release and by reconcile after a crash.
func TestLocalHelper(t *testing.T) {
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	base := t.TempDir()
	meter := &recordingMeter{}
	m := testManager(t, db, log, &helper.Local{Dir: base, PriceHourly: 5_000}, meter, nil)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", helper.Need{MemoryMB: 1, VCPUs: 1})
	must(t, err)
	if h.Record().Size != "local" || h.Record().PriceHourly != 5_000 {
		t.Fatalf("record %+v", h.Record())
	}
	must(t, h.Upload(ctx, strings.NewReader("#!/bin/sh\necho local $PWD\n"), "run.sh", 0o700))
	var out bytes.Buffer
	must(t, h.Run(ctx, "./run.sh", &out, &out))
	dir := filepath.Join(base, h.Record().Name)
	if !strings.Contains(out.String(), "local "+filepath.Join(dir, "work")) {
		t.Fatalf("output %q", out.String())
	}
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	err = h.Run(tctx, "sleep 30 & sleep 30", &out, &out)
	cancel()
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("a command past its deadline: %v after %s", err, time.Since(start))
	}
	wctx, wcancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if _, err := m.Acquire(wctx, "job-2", helper.Need{}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "wait for the helper slot") {
		t.Fatalf("second local helper: %v, want a wait for the slot", err)
	}
	wcancel()
	must(t, h.Release(ctx))
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("work dir left after release: %v", err)
	}

	// A leftover from a crashed process (a dir with our tag, no live job).
	l := &helper.Local{Dir: base}
	_, err = l.Create(ctx, helper.CreateRequest{Name: "patchgit-test-left-000000", Tags: []string{helper.TagHelper, m.InstanceTag()}})
	must(t, err)
	_, err = l.Create(ctx, helper.CreateRequest{Name: "patchgit-other-kept-000000", Tags: []string{helper.TagHelper, "patchgit-instance-other"}})
	must(t, err)
	must(t, m.Reconcile(ctx))
	if _, err := os.Stat(filepath.Join(base, "patchgit-test-left-000000")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("reconcile left a crashed local helper")
	}
	if _, err := os.Stat(filepath.Join(base, "patchgit-other-kept-000000")); err != nil {
		t.Fatal("reconcile removed another install's helper")
	}
}

// An existing host over SSH: its configured host key is pinned, nothing is
// created or destroyed, and a wrong key is refused.
func TestSSHHostHelper(t *testing.T) {
	hk, err := helper.NewHostKey()
	must(t, err)
	ud, err := helper.UserData(hk)
	must(t, err)
	signer := helpertest.ClientKey(t)
	port := helpertest.FreePort(t)
	priv, _, err := helper.HostKeyFromUserData(ud) // cloud-init's part
	must(t, err)
	helpertest.BootSSHD(t, t.TempDir(), port, priv, helpertest.AuthorizedKey(signer))
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	target := helper.SSHTarget{Address: "127.0.0.1", Port: port, User: helpertest.CurrentUser(t), Signer: signer, HostKey: hk.Public,
		Dir: filepath.Join(t.TempDir(), "work")}
	m := testManager(t, db, log, &helper.SSHHost{Target: target, Size: helper.Size{MemoryMB: 4096, VCPUs: 2}}, nil, nil)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", helper.Need{MemoryMB: 2048})
	must(t, err)
	var out bytes.Buffer
	must(t, h.Upload(ctx, strings.NewReader("data"), "in.txt", 0o600))
	must(t, h.Run(ctx, "cat in.txt; echo; hostname >/dev/null", &out, &out))
	if !strings.HasPrefix(out.String(), "data") {
		t.Fatalf("output %q", out.String())
	}
	must(t, h.Release(ctx))
	if _, err := helper.DialSSH(ctx, target); err != nil {
		t.Fatalf("the existing host is gone after release: %v", err)
	}

	other, err := helper.NewHostKey()
	must(t, err)
	bad := target
	bad.HostKey = other.Public
	if _, err := helper.DialSSH(ctx, bad); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("a wrong pinned key: %v", err)
	}
	if _, err := m.Acquire(ctx, "job-2", helper.Need{MemoryMB: 8192}); !errors.Is(err, helper.ErrNoSize) {
		t.Fatalf("need above the host: %v", err)
	}
}

func TestChooseSize(t *testing.T) {
	cat := []helper.Size{{"s-1vcpu-1gb", 1024, 1, 9_000}, {"s-1vcpu-2gb", 2048, 1, 18_000}, {"s-2vcpu-2gb", 2048, 2, 27_000},
		{"s-2vcpu-4gb", 4096, 2, 36_000}, {"s-4vcpu-8gb", 8192, 4, 71_000}}
	for _, tc := range []struct {
		need     helper.Need
		want     string
		approval bool
	}{
		{helper.Need{}, "s-1vcpu-2gb", false},
		{helper.Need{MemoryMB: 2048, VCPUs: 2}, "s-2vcpu-2gb", false},
		{helper.Need{MemoryMB: 3000}, "s-2vcpu-4gb", false},
		{helper.Need{MemoryMB: 4096, VCPUs: 3}, "s-4vcpu-8gb", true},
	} {
		got, err := helper.ChooseSize(cat, helper.DefaultAllowedSizes, tc.need)
		if got.Slug != tc.want || errors.Is(err, helper.ErrApprovalNeeded) != tc.approval {
			t.Errorf("need %+v: %s, %v; want %s (approval %v)", tc.need, got.Slug, err, tc.want, tc.approval)
		}
	}
	if _, err := helper.ChooseSize(cat, nil, helper.Need{VCPUs: 64}); !errors.Is(err, helper.ErrNoSize) {
		t.Errorf("64 vCPUs: %v", err)
	}
}

func TestInstanceIDIsKept(t *testing.T) {
	dir := t.TempDir()
	db, _ := openStore(t, dir)
	a, err := helper.InstanceID(db)
	must(t, err)
	db.Close()
	db, _ = openStore(t, dir)
	defer db.Close()
	b, err := helper.InstanceID(db)
	must(t, err)
	other, _ := openStore(t, t.TempDir())
	defer other.Close()
	c, err := helper.InstanceID(other)
	must(t, err)
	if a != b || len(a) != 12 || a == c {
		t.Fatalf("ids %q %q %q: want one kept per store, different across stores", a, b, c)
	}
}

// The budget's stop signal (a refused extension) destroys a live helper at
// the next reconcile, and the job's next use says why.
func TestMeterStopDestroysLiveHelper(t *testing.T) {
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	meter := &recordingMeter{}
	m := testManager(t, db, log, &helper.Local{Dir: t.TempDir(), PriceHourly: 1}, meter, nil)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", helper.Need{})
	must(t, err)
	must(t, m.Reconcile(ctx))
	must(t, h.Run(ctx, "true", nil, nil))
	meter.mu.Lock()
	meter.stop = errors.New("hourly cap $1.00 reached")
	meter.mu.Unlock()
	must(t, m.Reconcile(ctx))
	err = h.Run(ctx, "true", nil, nil)
	if !errors.Is(err, helper.ErrReleased) || !strings.Contains(err.Error(), "hourly cap $1.00 reached") {
		t.Fatalf("use after the budget's stop: %v", err)
	}
	if recs, _ := helper.Records(db, false); len(recs) != 0 {
		t.Fatalf("open records %+v", recs)
	}
}

// A destroy that fails (the provider is down) leaves the record open, and
// the next reconcile finishes it: a failed helper is never kept as owned.
func TestFailedDestroyIsRetriedByReconcile(t *testing.T) {
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	p := &flakyDestroy{Local: &helper.Local{Dir: t.TempDir()}, fails: 1}
	m := testManager(t, db, log, p, nil, nil)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", helper.Need{})
	must(t, err)
	if err := h.Release(ctx); err == nil {
		t.Fatal("release succeeded although the provider failed")
	}
	if recs, _ := helper.Records(db, false); len(recs) != 1 || recs[0].State != helper.StateDestroying {
		t.Fatalf("records %+v, want one left destroying", recs)
	}
	must(t, m.Reconcile(ctx))
	if recs, _ := helper.Records(db, false); len(recs) != 0 {
		t.Fatalf("records %+v after reconcile", recs)
	}
	if ms, _ := p.ListByTag(ctx, m.InstanceTag()); len(ms) != 0 {
		t.Fatalf("machines left: %+v", ms)
	}
}

type flakyDestroy struct {
	*helper.Local
	fails int
}

func (f *flakyDestroy) Destroy(ctx context.Context, id string) error {
	if f.fails > 0 {
		f.fails--
		return errors.New("provider unavailable")
	}
	return f.Local.Destroy(ctx, id)
}
