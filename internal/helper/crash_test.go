package helper_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helper/helpertest"
	"github.com/patchgit/patchgit/internal/store"
)

// The crash child: the test binary re-run as a control plane that acquires
// a helper, runs a command on it and releases it, pausing forever at the
// step named in PATCHGIT_HELPER_CRASH_AT so the parent can kill -9 it there.
const crashEnv = "PATCHGIT_HELPER_CRASH_AT"

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

func crashChild() int {
	at := os.Getenv(crashEnv)
	fail := func(err error) int { fmt.Println("ERR", err); return 1 }
	raw, err := os.ReadFile(os.Getenv("CRASH_KEY"))
	if err != nil {
		return fail(err)
	}
	signer, err := ssh.ParsePrivateKey(raw)
	if err != nil {
		return fail(err)
	}
	port, _ := strconv.Atoi(os.Getenv("CRASH_SSH_PORT"))
	tb := &childTB{}
	p := helpertest.NewProvider(tb, os.Getenv("CRASH_DO_URL"), os.Getenv("CRASH_DO_TOKEN"), signer, port, os.Getenv("CRASH_REMOTE_DIR"))
	db, log := openStore(tb, os.Getenv("CRASH_DATA_DIR"))
	pause := func(step string) {
		fmt.Println("STEP", step)
		select {} // wait for kill -9
	}
	meter, err := helper.NewBudgetMeter(crashLedger(db), crashSlice)
	if err != nil {
		return fail(err)
	}
	m, err := helper.NewManager(db, p, helper.Options{Instance: "test", Audit: log, Meter: meter, Poll: 20 * time.Millisecond,
		ReadyTimeout: 20 * time.Second, ConfirmFor: 10 * time.Second,
		OnStep: func(step helper.State, _ helper.Record) {
			if string(step) == at {
				pause(at)
			}
		}})
	if err != nil {
		return fail(err)
	}
	ctx := context.Background()
	h, err := m.Acquire(ctx, "job-crash", helper.Need{MemoryMB: 2048})
	if err != nil {
		return fail(err)
	}
	if err := h.Run(ctx, "echo ran > ran.txt", os.Stdout, os.Stderr); err != nil {
		return fail(err)
	}
	if at == "running" {
		pause(at)
	}
	if err := h.Release(ctx); err != nil {
		return fail(err)
	}
	fmt.Println("DONE")
	return 0
}

// The crash child reserves a long slice, so that a reservation settled at
// its full amount (what the ledger's own reconcile does) differs from the
// per-second cost of what ran.
const crashSlice = 2 * time.Hour

func crashLedger(db *store.DB) *budget.Ledger {
	return budget.NewLedger(db, budget.Caps{Hour: 100 * budget.Dollar, Day: 1000 * budget.Dollar}, nil, nil)
}

// childTB lets the test helpers run in the child, where a failure exits.
type childTB struct{ testing.TB }

func (*childTB) Helper()                   {}
func (*childTB) TempDir() string           { d, _ := os.MkdirTemp("", "crash"); return d }
func (*childTB) Fatal(args ...any)         { fmt.Println(append([]any{"ERR"}, args...)...); os.Exit(1) }
func (*childTB) Fatalf(f string, a ...any) { fmt.Println("ERR", fmt.Sprintf(f, a...)); os.Exit(1) }
func (*childTB) Errorf(f string, a ...any) { fmt.Println("ERR", fmt.Sprintf(f, a...)) }

// kill -9 the control plane at each lifecycle step, restart, reconcile:
// no droplet is left, no record stays open, the slot is free, the audit
// chain is intact and records the destroy, and the ledger charged what
// ran: the reservation the dead process left open is settled at the
// per-second cost from create to confirmed destroy (nothing when nothing
// was created), and none stays open.
func TestCrashAtEachStepThenReconcileLeavesNoDroplet(t *testing.T) {
	helpertest.RequireSSHD(t)
	steps := []struct {
		at        string
		dropletUp bool // a droplet exists when the process dies
	}{
		{"intent", false},          // before create
		{"create-in-flight", true}, // the API made it, the answer never arrived
		{"created", true},          // after create, before it was ready
		{"running", true},          // after a command ran on it
		{"destroying", true},       // destroy decided, delete not yet confirmed
	}
	for _, tc := range steps {
		t.Run(tc.at, func(t *testing.T) {
			h := helpertest.NewDOHarness(t)
			dataDir := t.TempDir()
			_, priv, err := ed25519.GenerateKey(rand.Reader)
			must(t, err)
			block, err := ssh.MarshalPrivateKey(priv, "")
			must(t, err)
			keyFile := filepath.Join(t.TempDir(), "id_ed25519")
			must(t, os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600))
			signer, err := ssh.NewSignerFromKey(priv)
			must(t, err)
			h.Signer = signer

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashEnv+"="+tc.at, "CRASH_KEY="+keyFile, "CRASH_DATA_DIR="+dataDir,
				"CRASH_DO_URL="+h.URL(), "CRASH_DO_TOKEN="+h.Fake.Token, "CRASH_SSH_PORT="+strconv.Itoa(h.Port),
				"CRASH_REMOTE_DIR="+filepath.Join(t.TempDir(), "work"))
			out, err := cmd.StdoutPipe()
			must(t, err)
			cmd.Stderr = os.Stderr
			must(t, cmd.Start())
			// kill -9 by pid (the fake's handler kills from its own
			// goroutine), never after Wait reaped it.
			pid := cmd.Process.Pid
			var once sync.Once
			var waited atomic.Bool
			kill := func() {
				once.Do(func() {
					if !waited.Load() {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				})
			}
			if tc.at == "create-in-flight" {
				h.Fake.SetOnCreate(func(*helpertest.Droplet) { kill() })
			}
			t.Cleanup(kill)
			lines := bufio.NewScanner(out)
			var seen []string
			for lines.Scan() {
				line := lines.Text()
				seen = append(seen, line)
				if line == "STEP "+tc.at {
					kill()
					break
				}
				if tc.at != "create-in-flight" && (strings.HasPrefix(line, "ERR") || line == "DONE") {
					t.Fatalf("child did not stop at %s: %v", tc.at, seen)
				}
			}
			kill()
			cmd.Wait()
			waited.Store(true)
			if tc.at == "create-in-flight" && h.Fake.Created() != 1 {
				t.Fatalf("the kill came before the create: %v", seen)
			}
			if got := len(h.Fake.Alive()); (got == 1) != tc.dropletUp {
				t.Fatalf("%d droplets alive when the process died at %s", got, tc.at)
			}

			// Restart: a new process opens the same store and reconciles.
			db, log := openStore(t, dataDir)
			defer db.Close()
			ledger := crashLedger(db)
			if open, _ := ledger.OpenReservations(); len(open) != map[bool]int{false: 0, true: 1}[tc.at != "intent"] {
				t.Fatalf("open reservations when the process died at %s: %+v", tc.at, open)
			}
			meter, err := helper.NewBudgetMeter(ledger, crashSlice)
			must(t, err)
			m := testManager(t, db, log, h.Provider(t.TempDir()), meter, nil)
			if err := m.Reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n, err := ledger.Reconcile(); err != nil || n != 0 {
				t.Fatalf("the helper's reconcile left %d reservations for the ledger's (%v)", n, err)
			}
			recs, _ := helper.Records(db, true)
			if len(recs) != 1 {
				t.Fatalf("records %+v", recs)
			}
			r := recs[0]
			var charged budget.Micros
			if since := r.StartedAt; tc.dropletUp {
				if since.IsZero() {
					since = r.CreatedAt // the create's answer never arrived
				}
				charged = budget.NewHelperPrice(r.Size, r.PriceHourly, 0).Cost(r.DestroyedAt.Sub(since))
			}
			if got := helperSpend(t, ledger, r.Name); got != charged || tc.dropletUp && charged == 0 {
				t.Fatalf("the ledger charged %s for %s, want %s (per second from create to destroy)", got, tc.at, charged)
			}
			if n := len(h.Fake.Alive()); n != 0 {
				t.Fatalf("%d droplets left after reconcile", n)
			}
			if open, _ := helper.Records(db, false); len(open) != 0 {
				t.Fatalf("records still open: %+v", open)
			}
			must(t, db.View(func(tx *bolt.Tx) error {
				if holder := helper.SlotHolder(tx); holder != "" {
					return fmt.Errorf("the slot is still held by %s", holder)
				}
				return nil
			}))
			if rep, err := log.Verify(); err != nil || !rep.OK {
				t.Fatalf("audit verify after kill -9: %+v %v", rep, err)
			}
			e := auditEntry(t, db, "helper.destroyed")
			want := "orphaned" // the restart found it; a destroy already decided keeps its reason
			if tc.at == "destroying" {
				want = "released: job done"
			}
			if !strings.Contains(e.Data["reason"], want) {
				t.Fatalf("destroyed entry %v, want reason %q", e.Data, want)
			}
		})
	}
}
