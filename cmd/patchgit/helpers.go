package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/helper"
	"github.com/patchgit/patchgit/internal/helperrun"
	"github.com/patchgit/patchgit/internal/store"
)

// helperKeyFile is the control plane's SSH key for helper machines, in the
// data dir: generated once, mode 0600, never sent anywhere but its public
// half (DigitalOcean's account keys; an existing host's authorized_keys).
const helperKeyFile = "helper_ed25519"

// helperParts builds the helper manager for cfg.Helper and the runner that
// verifies on a helper. The daemon starts the manager's reconcile loop.
func helperParts(cfg config.Config, db *store.DB, log *audit.Log, g *gitops.Git, logger *slog.Logger,
	ledger *budget.Ledger, jobSpend func(job string) (proposal string, approved bool)) (*helper.Manager, *helperrun.Runner, error) {
	prov, err := helperProvider(cfg)
	if err != nil {
		return nil, nil, err
	}
	id, err := helper.InstanceID(db)
	if err != nil {
		return nil, nil, err
	}
	// A helper machine is metered in the budget from create to confirmed
	// destroy, in slices; a refused slice destroys it before the cap.
	meter, err := helper.NewBudgetMeter(ledger, cfg.Budget.MeterSlice.Std())
	if err != nil {
		return nil, nil, err
	}
	m, err := helper.NewManager(db, prov, helper.Options{
		Instance: id, Audit: log, Logger: logger,
		Meter: meter, JobSpend: jobSpend,
		AllowedSizes: cfg.Helper.Sizes,
		TTL:          cfg.Helper.TTL.Std(), ReadyTimeout: cfg.Helper.ReadyTimeout.Std(),
		ModelServer: modelServer(cfg), // cloud-init of a helper that serves the helper tier (onhelper.go)
	})
	if err != nil {
		return nil, nil, err
	}
	return m, &helperrun.Runner{Git: g, Isolation: cfg.Sandbox.Isolation, Logger: logger}, nil
}

// helperProvider is the provider helper.provider names.
func helperProvider(cfg config.Config) (helper.Provider, error) {
	h := cfg.Helper
	switch h.Provider {
	case "digitalocean":
		token, err := readSecretFile(cfg.DigitalOceanTokenFile(), "helper.digitalocean.token_file")
		if err != nil {
			return nil, err
		}
		signer, err := helperKey(dataPath(cfg, helperKeyFile))
		if err != nil {
			return nil, err
		}
		client, err := helper.NewDigitalOceanClient(token, h.DigitalOcean.APIURL)
		if err != nil {
			return nil, err
		}
		return helper.NewDigitalOcean(helper.DigitalOceanConfig{Client: client, Region: h.DigitalOcean.Region,
			Image: h.DigitalOcean.Image, SSHPort: h.DigitalOcean.SSHPort, SSHUser: h.DigitalOcean.SSHUser,
			RemoteDir: h.DigitalOcean.WorkDir, Signer: signer})
	case "ssh":
		signer, err := helperKey(dataPath(cfg, helperKeyFile))
		if err != nil {
			return nil, err
		}
		hostKey, err := helper.ParsePublicKey(h.SSH.HostKey)
		if err != nil {
			return nil, fmt.Errorf("helper.ssh.host_key: %w", err)
		}
		return &helper.SSHHost{
			Target: helper.SSHTarget{Address: h.SSH.Host, Port: h.SSH.Port, User: h.SSH.User, Signer: signer, HostKey: hostKey,
				Dir: h.SSH.WorkDir},
			Size: helper.Size{Slug: "existing", MemoryMB: h.SSH.MemoryMB, VCPUs: h.SSH.VCPUs, PriceHourly: h.SSH.PriceHourly.Micros()},
		}, nil
	default:
		// Unpriced here on purpose: core meters a verify on this machine
		// (local sandbox or local helper) as local helper time at
		// budget.local_helper_hourly; pricing the provider too would
		// charge that time twice.
		return &helper.Local{Dir: dataPath(cfg, "helpers")}, nil
	}
}

// readSecretFile reads a token from a file only its owner can read; the
// token is the first line. key names the setting in errors.
func readSecretFile(path, key string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: read the token: %w; put the token in that file (mode 0600) as docs/helper.md says", key, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: %s is readable by others (mode %04o): run chmod 600 %s", key, path, st.Mode().Perm(), path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: read the token: %w", key, err)
	}
	token, _, _ := strings.Cut(string(raw), "\n")
	if token = strings.TrimSpace(token); token == "" {
		return "", fmt.Errorf("%s: %s is empty; put the API token on its first line", key, path)
	}
	return token, nil
}

// helperKey loads the control plane's helper key, generating it once.
func helperKey(path string) (ssh.Signer, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw, err = newHelperKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("helper ssh key %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("helper ssh key %s: %w", path, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("helper ssh key %s is readable by others (mode %04o): run chmod 600 %s", path, st.Mode().Perm(), path)
	}
	signer, err := ssh.ParsePrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("helper ssh key %s: %w; move it away and a new one is made at the next start", path, err)
	}
	return signer, nil
}

// newHelperKey writes a fresh ed25519 key (O_EXCL: never over another).
func newHelperKey(path string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "patchgit control plane")
	if err != nil {
		return nil, err
	}
	raw := pem.EncodeToMemory(block)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, err
	}
	return raw, nil
}
