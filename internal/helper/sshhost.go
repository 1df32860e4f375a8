package helper

import (
	"context"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// SSHHost is an existing host the operator names: nothing is created or
// destroyed, only a work directory is used. Its host key is configured
// (pinned), never learned.
type SSHHost struct {
	Target SSHTarget // Address, Port, User, Signer, HostKey (required), Dir
	Size   Size      // what the host offers; PriceHourly 0 = not metered
}

func (h *SSHHost) Name() string { return "ssh" }

func (h *SSHHost) Sizes(context.Context) ([]Size, error) {
	s := h.Size
	if s.Slug == "" {
		s.Slug = "existing"
	}
	return []Size{s}, nil
}

// Create names the existing host; the ID is the helper's name, so the
// manager's records stay one per job.
func (h *SSHHost) Create(_ context.Context, req CreateRequest) (Machine, error) {
	if h.Target.HostKey == nil {
		return Machine{}, fmt.Errorf("use ssh helper %s: %w: its host key must be configured", h.Target.Address, ErrBadConfig)
	}
	return Machine{ID: req.Name, Name: req.Name, Status: "active", Address: h.Target.Address, Tags: req.Tags}, nil
}

// Get reports the host as active: it outlives every helper record.
func (h *SSHHost) Get(_ context.Context, id string) (Machine, error) {
	return Machine{}, fmt.Errorf("get ssh helper %s: %w (an existing host is never listed as a helper)", id, ErrNotFound)
}

// ListByTag finds nothing: an existing host is not PatchGit's to destroy.
func (h *SSHHost) ListByTag(context.Context, string) ([]Machine, error) { return nil, nil }

// Destroy leaves the host running.
func (h *SSHHost) Destroy(context.Context, string) error { return nil }

// Connect dials with the configured host key; the per-helper key is unused.
func (h *SSHHost) Connect(ctx context.Context, m Machine, _ ssh.PublicKey) (Conn, error) {
	t := h.Target
	t.Address = m.Address
	return dialSSH(ctx, t)
}
