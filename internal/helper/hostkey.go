package helper

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"
)

// HostKey is a helper's SSH host key, generated on the control plane so the
// helper's identity is known before first contact (never trust on first
// use). Private goes into the user data only; Public is pinned.
type HostKey struct {
	PrivatePEM string        // OpenSSH private key; secret
	Public     ssh.PublicKey // pinned in the intent record
}

// NewHostKey generates an ed25519 host key.
func NewHostKey() (HostKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return HostKey{}, fmt.Errorf("generate host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "patchgit helper")
	if err != nil {
		return HostKey{}, fmt.Errorf("encode host key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return HostKey{}, fmt.Errorf("encode host key: %w", err)
	}
	return HostKey{PrivatePEM: string(pem.EncodeToMemory(block)), Public: sshPub}, nil
}

// PublicLine is the public key in authorized_keys form ("ssh-ed25519 AAAA...").
func (k HostKey) PublicLine() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Public)))
}

// cloudConfig is the part of cloud-init's #cloud-config that PatchGit uses.
type cloudConfig struct {
	SSHDeleteKeys  bool              `yaml:"ssh_deletekeys"`
	SSHGenKeyTypes []string          `yaml:"ssh_genkeytypes"`
	SSHKeys        map[string]string `yaml:"ssh_keys"`
	PackageUpdate  bool              `yaml:"package_update,omitempty"`
	Packages       []string          `yaml:"packages,omitempty"`
	WriteFiles     []CloudFile       `yaml:"write_files,omitempty"`
	RunCmd         []string          `yaml:"runcmd,omitempty"`
}

// HelperPackages are what cloud-init installs on a new helper: git for
// `patchgit helper verify` (it unbundles the base commit), bubblewrap for
// the sandbox's strongest isolation. The runner waits for cloud-init.
var HelperPackages = []string{"git", "bubblewrap"}

// UserData is the cloud-init user data that installs k as the helper's only
// host key (cloud-init's ssh_keys module), generates no other, and installs
// HelperPackages.
func UserData(k HostKey) (string, error) { return UserDataWith(k, nil) }

// UserDataWith is UserData plus, with ms, the model server's packages,
// files and commands (nil: exactly the plain helper's).
func UserDataWith(k HostKey, ms *ModelServer) (string, error) {
	cfg := cloudConfig{
		SSHDeleteKeys:  true,
		SSHGenKeyTypes: []string{},
		SSHKeys: map[string]string{
			"ed25519_private": k.PrivatePEM,
			"ed25519_public":  k.PublicLine(),
		},
		PackageUpdate: true,
		Packages:      HelperPackages,
	}
	if ms != nil {
		cfg.Packages = append(slices.Clone(cfg.Packages), ms.Packages...)
		cfg.WriteFiles, cfg.RunCmd = ms.WriteFiles, ms.RunCmd
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encode user data: %w", err)
	}
	return "#cloud-config\n" + string(out), nil
}

// HostKeyFromUserData reads the host key pair back from user data written
// by UserData (what cloud-init does on the helper; the tests play it).
func HostKeyFromUserData(userData string) (privatePEM, publicLine string, err error) {
	var cfg cloudConfig
	if !strings.HasPrefix(userData, "#cloud-config\n") {
		return "", "", fmt.Errorf("read user data: not a #cloud-config document")
	}
	if err := yaml.Unmarshal([]byte(userData), &cfg); err != nil {
		return "", "", fmt.Errorf("read user data: %w", err)
	}
	privatePEM, publicLine = cfg.SSHKeys["ed25519_private"], cfg.SSHKeys["ed25519_public"]
	if privatePEM == "" || publicLine == "" {
		return "", "", fmt.Errorf("read user data: no ed25519 host key in ssh_keys")
	}
	return privatePEM, publicLine, nil
}

// ParsePublicKey parses an authorized_keys line.
func ParsePublicKey(line string) (ssh.PublicKey, error) {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("parse host key: %w", err)
	}
	return k, nil
}
