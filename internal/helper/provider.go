// Package helper runs heavy work on at most one ephemeral helper machine at
// a time: a DigitalOcean droplet created for the job and destroyed after it,
// an existing host reached over SSH, or this machine itself (the embedded
// default). The Manager keeps an intent record in the store before anything
// is created, so a crash at any step is cleaned up by Reconcile, which runs
// at start and every minute and destroys, by tag, what no live job owns.
package helper

import (
	"context"
	"io"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/budget"
)

// Provider creates, lists and destroys helper machines and connects to them.
type Provider interface {
	// Name is the provider's config name: digitalocean, ssh or local.
	Name() string
	// Sizes is the catalog the policy picks from.
	Sizes(ctx context.Context) ([]Size, error)
	// Create starts a machine; it returns as soon as the provider has
	// accepted it (Status may still be "new").
	Create(ctx context.Context, req CreateRequest) (Machine, error)
	// Get reads one machine; ErrNotFound once it is gone.
	Get(ctx context.Context, id string) (Machine, error)
	// ListByTag lists the machines carrying tag.
	ListByTag(ctx context.Context, tag string) ([]Machine, error)
	// Destroy deletes a machine (never just powers it off); ErrNotFound if
	// it is already gone.
	Destroy(ctx context.Context, id string) error
	// Connect opens a session to an active machine whose host key must be
	// hostKey (nil only for the local provider).
	Connect(ctx context.Context, m Machine, hostKey ssh.PublicKey) (Conn, error)
}

// Size is one machine size and its price.
type Size struct {
	Slug        string        `json:"slug"`
	MemoryMB    int           `json:"memory_mb"`
	VCPUs       int           `json:"vcpus"`
	PriceHourly budget.Micros `json:"price_hourly"` // per hour; 0 = not priced
}

// CreateRequest is what Create needs. UserData holds the helper's private
// host key: never log it.
type CreateRequest struct {
	Name     string
	Size     string
	Tags     []string
	UserData string
}

// Machine is a helper machine as the provider reports it.
type Machine struct {
	ID      string
	Name    string
	Status  string // new, active, off, archive (DigitalOcean's words)
	Address string // where SSH reaches it; "" until known
	Tags    []string
}

// Active is true when the machine is running and has an address.
func (m Machine) Active() bool { return m.Status == "active" && m.Address != "" }

// Conn runs things on a helper.
type Conn interface {
	// Upload writes r to name inside the helper's work directory with mode.
	Upload(ctx context.Context, r io.Reader, name string, mode uint32) error
	// Run runs a shell command in the helper's work directory; a non-zero
	// exit is an error.
	Run(ctx context.Context, command string, stdout, stderr io.Writer) error
	Close() error
}

// Meter is the budget's hook: Start before the machine is created (the
// budget may refuse, and then nothing is created), Extend while it runs
// (an error means: stop it now), Stop once its deletion is confirmed.
// BudgetMeter implements it over the budget's ledger; NopMeter charges
// nothing.
type Meter interface {
	Start(ctx context.Context, c Charge) error
	Extend(ctx context.Context, c Charge) error
	Stop(ctx context.Context, c Charge) error
}

// Charge describes one helper's metering.
type Charge struct {
	Helper      string        // the helper's unique name
	Job         string        // the job it runs for
	Proposal    string        // the proposal the job spends for, if known
	Approved    bool          // the person approved extra spend for it
	Size        string        // its size slug
	PriceHourly budget.Micros // per hour
	Since       time.Time     // when it was created (zero before Create, and if it never was)
	At          time.Time     // now, or when its deletion was confirmed
}

// NopMeter meters nothing.
type NopMeter struct{}

func (NopMeter) Start(context.Context, Charge) error  { return nil }
func (NopMeter) Extend(context.Context, Charge) error { return nil }
func (NopMeter) Stop(context.Context, Charge) error   { return nil }
