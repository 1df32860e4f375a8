package config

import (
	"strings"
	"testing"
)

func TestHelperConfigValidation(t *testing.T) {
	c := Default()
	c.DataDir = "/srv/pg"
	c.Helper.Provider = "aws"
	c.Helper.Sizes = []string{"s-2vcpu-4gb", "Big One"}
	err := c.Validate()
	for _, want := range []string{`helper.provider: "aws" is not valid (valid: local, digitalocean, ssh)`,
		`helper.sizes[1]: "Big One" is not a size slug`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}

	c = Default()
	c.DataDir = "/srv/pg"
	c.Helper.Provider = "ssh"
	c.Helper.DigitalOcean.APIURL = "http://api.example.com"
	err = c.Validate()
	for _, want := range []string{"helper.ssh.host: is empty", "helper.ssh.host_key: is not a public key line",
		`helper.digitalocean.api_url: "http://api.example.com" must be https://`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}

	c = Default()
	c.DataDir = "/srv/pg"
	if err := c.Validate(); err != nil || c.Helper.Provider != "local" {
		t.Fatalf("defaults: %v, provider %q", err, c.Helper.Provider)
	}
	if got := c.DigitalOceanTokenFile(); got != "/srv/pg/digitalocean.token" {
		t.Fatalf("token file %s", got)
	}
}
