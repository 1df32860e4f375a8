package helper

import (
	"bytes"
	"context"
	"errors"
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
	m := testManager(t, db, log, &Local{Dir: base, PriceHourly: 5_000}, meter, nil)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", Need{MemoryMB: 1, VCPUs: 1})
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
	if _, err := m.Acquire(wctx, "job-2", Need{}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "wait for the helper slot") {
		t.Fatalf("second local helper: %v, want a wait for the slot", err)
	}
	wcancel()
	must(t, h.Release(ctx))
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("work dir left after release: %v", err)
	}

	// A leftover from a crashed process (a dir with our tag, no live job).
	l := &Local{Dir: base}
	_, err = l.Create(ctx, CreateRequest{Name: "patchgit-test-left-000000", Tags: []string{TagHelper, m.InstanceTag()}})
	must(t, err)
	_, err = l.Create(ctx, CreateRequest{Name: "patchgit-other-kept-000000", Tags: []string{TagHelper, "patchgit-instance-other"}})
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
	hk, err := NewHostKey()
	must(t, err)
	ud, err := UserData(hk)
	must(t, err)
	signer := clientKey(t)
	port := freePort(t)
	bootSSHD(t, t.TempDir(), port, ud, string(sshAuthorized(signer)))
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	target := SSHTarget{Address: "127.0.0.1", Port: port, User: currentUser(t), Signer: signer, HostKey: hk.Public,
		Dir: filepath.Join(t.TempDir(), "work")}
	m := testManager(t, db, log, &SSHHost{Target: target, Size: Size{MemoryMB: 4096, VCPUs: 2}}, nil, nil)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", Need{MemoryMB: 2048})
	must(t, err)
	var out bytes.Buffer
	must(t, h.Upload(ctx, strings.NewReader("data"), "in.txt", 0o600))
	must(t, h.Run(ctx, "cat in.txt; echo; hostname >/dev/null", &out, &out))
	if !strings.HasPrefix(out.String(), "data") {
		t.Fatalf("output %q", out.String())
	}
	must(t, h.Release(ctx))
	if _, err := dialSSH(ctx, target); err != nil {
		t.Fatalf("the existing host is gone after release: %v", err)
	}

	other, err := NewHostKey()
	must(t, err)
	bad := target
	bad.HostKey = other.Public
	if _, err := dialSSH(ctx, bad); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("a wrong pinned key: %v", err)
	}
	if _, err := m.Acquire(ctx, "job-2", Need{MemoryMB: 8192}); !errors.Is(err, ErrNoSize) {
		t.Fatalf("need above the host: %v", err)
	}
}

func TestChooseSize(t *testing.T) {
	cat := []Size{{"s-1vcpu-1gb", 1024, 1, 9_000}, {"s-1vcpu-2gb", 2048, 1, 18_000}, {"s-2vcpu-2gb", 2048, 2, 27_000},
		{"s-2vcpu-4gb", 4096, 2, 36_000}, {"s-4vcpu-8gb", 8192, 4, 71_000}}
	for _, tc := range []struct {
		need     Need
		want     string
		approval bool
	}{
		{Need{}, "s-1vcpu-2gb", false},
		{Need{MemoryMB: 2048, VCPUs: 2}, "s-2vcpu-2gb", false},
		{Need{MemoryMB: 3000}, "s-2vcpu-4gb", false},
		{Need{MemoryMB: 4096, VCPUs: 3}, "s-4vcpu-8gb", true},
	} {
		got, err := ChooseSize(cat, DefaultAllowedSizes, tc.need)
		if got.Slug != tc.want || errors.Is(err, ErrApprovalNeeded) != tc.approval {
			t.Errorf("need %+v: %s, %v; want %s (approval %v)", tc.need, got.Slug, err, tc.want, tc.approval)
		}
	}
	if _, err := ChooseSize(cat, nil, Need{VCPUs: 64}); !errors.Is(err, ErrNoSize) {
		t.Errorf("64 vCPUs: %v", err)
	}
}

func TestInstanceIDIsKept(t *testing.T) {
	dir := t.TempDir()
	db, _ := openStore(t, dir)
	a, err := InstanceID(db)
	must(t, err)
	db.Close()
	db, _ = openStore(t, dir)
	defer db.Close()
	b, err := InstanceID(db)
	must(t, err)
	other, _ := openStore(t, t.TempDir())
	defer other.Close()
	c, err := InstanceID(other)
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
	m := testManager(t, db, log, &Local{Dir: t.TempDir(), PriceHourly: 1}, meter, nil)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", Need{})
	must(t, err)
	must(t, m.Reconcile(ctx))
	must(t, h.Run(ctx, "true", nil, nil))
	meter.mu.Lock()
	meter.stop = errors.New("hourly cap $1.00 reached")
	meter.mu.Unlock()
	must(t, m.Reconcile(ctx))
	err = h.Run(ctx, "true", nil, nil)
	if !errors.Is(err, ErrReleased) || !strings.Contains(err.Error(), "hourly cap $1.00 reached") {
		t.Fatalf("use after the budget's stop: %v", err)
	}
	if recs, _ := Records(db, false); len(recs) != 0 {
		t.Fatalf("open records %+v", recs)
	}
}

// A destroy that fails (the provider is down) leaves the record open, and
// the next reconcile finishes it: a failed helper is never kept as owned.
func TestFailedDestroyIsRetriedByReconcile(t *testing.T) {
	db, log := openStore(t, t.TempDir())
	defer db.Close()
	p := &flakyDestroy{Local: &Local{Dir: t.TempDir()}, fails: 1}
	m := testManager(t, db, log, p, nil, nil)
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-1", Need{})
	must(t, err)
	if err := h.Release(ctx); err == nil {
		t.Fatal("release succeeded although the provider failed")
	}
	if recs, _ := Records(db, false); len(recs) != 1 || recs[0].State != StateDestroying {
		t.Fatalf("records %+v, want one left destroying", recs)
	}
	must(t, m.Reconcile(ctx))
	if recs, _ := Records(db, false); len(recs) != 0 {
		t.Fatalf("records %+v after reconcile", recs)
	}
	if ms, _ := p.ListByTag(ctx, m.InstanceTag()); len(ms) != 0 {
		t.Fatalf("machines left: %+v", ms)
	}
}

type flakyDestroy struct {
	*Local
	fails int
}

func (f *flakyDestroy) Destroy(ctx context.Context, id string) error {
	if f.fails > 0 {
		f.fails--
		return errors.New("provider unavailable")
	}
	return f.Local.Destroy(ctx, id)
}
