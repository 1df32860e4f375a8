// Package helpertest is the test harness for helper machines, for tests
// outside internal/helper (core, helperrun): a local server that follows
// the DigitalOcean v2 API for the endpoints the provider uses, and a real
// OpenSSH sshd on loopback that plays a booted droplet with the host key
// cloud-init would install from the user data.
//
// internal/helper's own tests use it too, from the external package
// helper_test.
package helpertest

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FakeDO is a local server that follows the DigitalOcean v2 API for the
// endpoints the provider uses (sizes, account/keys, droplets create / get /
// list by tag / delete), with bearer-token auth, a droplet that is "new" for
// a few reads and then "active", 429s and 5xx injected on demand, and a
// deletion that shows for one more read (DigitalOcean deletes async).
type FakeDO struct {
	t     testing.TB
	Srv   *httptest.Server
	Token string

	mu       sync.Mutex
	nextID   int
	droplets map[int]*Droplet
	keys     []fakeKey
	faults   []fault
	requests []string // "METHOD /path" in order
	created  int
	// newReads is how many reads a droplet stays "new".
	newReads int
	sizes    []map[string]any // this fake's catalog (SetHourlyPrice)
	// OnActive plays cloud-init: it gets the user data and returns the
	// address the droplet answers SSH on.
	OnActive func(d *Droplet) string
	OnDelete func(d *Droplet)
	// onCreate runs after a droplet is stored, before the answer is sent
	// (SetOnCreate); lostCreates creates are made but answered with a 502,
	// the answer lost on the way (LoseCreates).
	onCreate    func(d *Droplet)
	lostCreates int
}

type Droplet struct {
	ID         int
	Name       string
	Size       string
	Region     string
	Image      string
	Tags       []string
	UserData   string
	SSHKeys    []string
	Status     string
	Address    string
	reads      int
	deleted    bool
	readsAfter int // reads left before a deleted droplet is 404
}

type fakeKey struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	PublicKey   string `json:"public_key"`
}

// fault answers the next count requests matching method and path prefix
// with status.
type fault struct {
	method, prefix string
	status, count  int
}

// NewFakeDO serves the fake API over plain HTTP on loopback (for clients
// in the test process).
func NewFakeDO(t testing.TB) *FakeDO { return newFakeDO(t, false) }

// NewFakeDOTLS serves it over HTTPS, as the real API is, for a daemon in
// another process: hand it CAFile through SSL_CERT_FILE.
func NewFakeDOTLS(t testing.TB) *FakeDO { return newFakeDO(t, true) }

func newFakeDO(t testing.TB, tls bool) *FakeDO {
	f := &FakeDO{t: t, Token: "dop_v1_test-token", nextID: 1000, droplets: map[int]*Droplet{}, newReads: 2}
	for _, s := range fakeSizes {
		f.sizes = append(f.sizes, maps.Clone(s))
	}
	if tls {
		f.Srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	} else {
		f.Srv = httptest.NewServer(http.HandlerFunc(f.serve))
	}
	t.Cleanup(f.Srv.Close)
	return f
}

// CAFile writes the TLS server's certificate (its own CA) as PEM and
// returns the file's path: SSL_CERT_FILE for a Go process on Linux.
func (f *FakeDO) CAFile() string {
	if f.Srv.TLS == nil {
		f.t.Fatal("CAFile: the fake API serves plain HTTP (use NewFakeDOTLS)")
	}
	path := filepath.Join(f.t.TempDir(), "fake-do-ca.pem")
	raw := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Srv.Certificate().Raw})
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// SetHourlyPrice prices every size of the catalog at hourly dollars (a
// pricey catalog brings a cap within seconds).
func (f *FakeDO) SetHourlyPrice(hourly float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sizes {
		s["price_hourly"] = hourly
	}
}

// SetOnCreate runs fn after a droplet is stored, before the answer is sent
// (with the fake's lock held: fn must not call the fake).
func (f *FakeDO) SetOnCreate(fn func(d *Droplet)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCreate = fn
}

// LoseCreates makes the next n creates happen but answers them with a 502.
func (f *FakeDO) LoseCreates(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lostCreates = n
}

// Created is how many droplets were created.
func (f *FakeDO) Created() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.created
}

// AddDroplet puts a droplet on the account as if someone else made it.
func (f *FakeDO) AddDroplet(d Droplet) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.droplets[d.ID] = &d
}

// Fail answers the next count requests matching method and path prefix
// with status.
func (f *FakeDO) Fail(method, prefix string, status, count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, fault{method, prefix, status, count})
}

// Alive lists droplets not deleted.
func (f *FakeDO) Alive() []Droplet {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Droplet
	for _, d := range f.droplets {
		if !d.deleted {
			out = append(out, *d)
		}
	}
	return out
}

// Droplets lists every droplet ever created, deleted ones too.
func (f *FakeDO) Droplets() []Droplet {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Droplet
	for _, id := range sortedIDs(f.droplets) {
		out = append(out, *f.droplets[id])
	}
	return out
}

// Count is how many requests began with prefix ("DELETE /v2/droplets/").
func (f *FakeDO) Count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func (f *FakeDO) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("RateLimit-Limit", "5000")
	w.Header().Set("RateLimit-Remaining", "4999")
	w.Header().Set("RateLimit-Reset", strconv.FormatInt(time.Now().Unix()+60, 10))
	if r.Header.Get("Authorization") != "Bearer "+f.Token {
		f.errorJSON(w, http.StatusUnauthorized, "unauthorized", "Unable to authenticate you")
		return
	}
	for i := range f.faults {
		ft := &f.faults[i]
		if ft.count > 0 && ft.method == r.Method && strings.HasPrefix(r.URL.Path, ft.prefix) {
			ft.count--
			if ft.status == http.StatusTooManyRequests {
				w.Header().Set("RateLimit-Remaining", "0")
				w.Header().Set("Retry-After", "0")
				f.errorJSON(w, ft.status, "too_many_requests", "API Rate limit exceeded.")
				return
			}
			f.errorJSON(w, ft.status, "server_error", "Server Error")
			return
		}
	}
	path := strings.TrimPrefix(r.URL.Path, "/v2/")
	switch {
	case r.Method == "GET" && path == "sizes":
		f.writeJSON(w, 200, map[string]any{"sizes": f.sizes, "links": map[string]any{}, "meta": map[string]any{"total": len(f.sizes)}})
	case r.Method == "GET" && strings.HasPrefix(path, "account/keys/"):
		fp := strings.TrimPrefix(path, "account/keys/")
		for _, k := range f.keys {
			if k.Fingerprint == fp || strconv.Itoa(k.ID) == fp {
				f.writeJSON(w, 200, map[string]any{"ssh_key": k})
				return
			}
		}
		f.errorJSON(w, 404, "not_found", "The resource you were accessing could not be found.")
	case r.Method == "POST" && path == "account/keys":
		var req struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.PublicKey == "" {
			f.errorJSON(w, 422, "unprocessable_entity", "Key invalid")
			return
		}
		k := fakeKey{ID: len(f.keys) + 1, Name: req.Name, PublicKey: req.PublicKey, Fingerprint: legacyFingerprint(f.t, req.PublicKey)}
		f.keys = append(f.keys, k)
		f.writeJSON(w, 201, map[string]any{"ssh_key": k})
	case r.Method == "POST" && path == "droplets":
		var req struct {
			Name     string   `json:"name"`
			Region   string   `json:"region"`
			Size     string   `json:"size"`
			Image    any      `json:"image"`
			SSHKeys  []any    `json:"ssh_keys"`
			Tags     []string `json:"tags"`
			UserData string   `json:"user_data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" || req.Size == "" || req.Region == "" {
			f.errorJSON(w, 422, "unprocessable_entity", "name, region and size are required")
			return
		}
		if !slices.ContainsFunc(f.sizes, func(s map[string]any) bool { return s["slug"] == req.Size }) {
			f.errorJSON(w, 422, "unprocessable_entity", "You specified an invalid size for Droplet creation.")
			return
		}
		var keys []string
		for _, k := range req.SSHKeys {
			keys = append(keys, fmt.Sprint(k))
		}
		f.nextID++
		f.created++
		d := &Droplet{ID: f.nextID, Name: req.Name, Size: req.Size, Region: req.Region, Image: fmt.Sprint(req.Image),
			Tags: req.Tags, UserData: req.UserData, SSHKeys: keys, Status: "new"}
		f.droplets[d.ID] = d
		if f.onCreate != nil {
			f.onCreate(d)
		}
		if f.lostCreates > 0 {
			f.lostCreates--
			f.errorJSON(w, 502, "bad_gateway", "Bad Gateway")
			return
		}
		f.writeJSON(w, 202, map[string]any{"droplet": f.dropletJSON(d),
			"links": map[string]any{"actions": []map[string]any{{"id": d.ID * 10, "rel": "create", "href": f.Srv.URL + "/v2/actions/" + strconv.Itoa(d.ID*10)}}}})
	case r.Method == "GET" && path == "droplets":
		tag := r.URL.Query().Get("tag_name")
		var list []map[string]any
		for _, id := range sortedIDs(f.droplets) {
			d := f.droplets[id]
			if (!d.deleted || d.readsAfter > 0) && (tag == "" || slices.Contains(d.Tags, tag)) {
				list = append(list, f.dropletJSON(d))
			}
		}
		f.writeJSON(w, 200, map[string]any{"droplets": list, "links": map[string]any{}, "meta": map[string]any{"total": len(list)}})
	case strings.HasPrefix(path, "droplets/"):
		id, err := strconv.Atoi(strings.TrimPrefix(path, "droplets/"))
		d := f.droplets[id]
		if err != nil || d == nil || (d.deleted && d.readsAfter == 0) {
			f.errorJSON(w, 404, "not_found", "The resource you were accessing could not be found.")
			return
		}
		switch r.Method {
		case "GET":
			if d.deleted {
				d.readsAfter--
			} else {
				f.advance(d)
			}
			f.writeJSON(w, 200, map[string]any{"droplet": f.dropletJSON(d)})
		case "DELETE":
			if d.deleted {
				f.errorJSON(w, 404, "not_found", "The resource you were accessing could not be found.")
				return
			}
			d.deleted, d.readsAfter, d.Status = true, 1, "off"
			if f.OnDelete != nil {
				f.OnDelete(d)
			}
			w.WriteHeader(204)
		default:
			f.errorJSON(w, 405, "method_not_allowed", "method not allowed")
		}
	default:
		f.errorJSON(w, 404, "not_found", "The resource you were accessing could not be found.")
	}
}

// advance moves a droplet from new to active after newReads reads; at that
// moment the harness boots it (plays cloud-init).
func (f *FakeDO) advance(d *Droplet) {
	if d.Status != "new" {
		return
	}
	d.reads++
	if d.reads < f.newReads {
		return
	}
	d.Status = "active"
	if f.OnActive != nil {
		d.Address = f.OnActive(d)
	}
}

func (f *FakeDO) dropletJSON(d *Droplet) map[string]any {
	v4 := []map[string]any{{"ip_address": "10.110.0.2", "netmask": "255.255.240.0", "gateway": "", "type": "private"}}
	if d.Address != "" {
		v4 = append(v4, map[string]any{"ip_address": d.Address, "netmask": "255.255.255.0", "gateway": "127.0.0.254", "type": "public"})
	}
	return map[string]any{
		"id": d.ID, "name": d.Name, "memory": 2048, "vcpus": 1, "disk": 50, "locked": false, "status": d.Status,
		"created_at": "2026-11-26T10:00:00Z", "size_slug": d.Size, "tags": d.Tags,
		"region":   map[string]any{"slug": d.Region, "name": d.Region, "available": true},
		"networks": map[string]any{"v4": v4, "v6": []any{}},
	}
}

func (f *FakeDO) writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		f.t.Errorf("fake DO: encode: %v", err)
	}
}

func (f *FakeDO) errorJSON(w http.ResponseWriter, status int, id, msg string) {
	f.writeJSON(w, status, map[string]any{"id": id, "message": msg, "request_id": "req-" + strconv.Itoa(len(f.requests))})
}

func sortedIDs(m map[int]*Droplet) []int {
	var ids []int
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// fakeSizes is a slice of the real catalog (prices as published).
var fakeSizes = []map[string]any{
	size("s-1vcpu-1gb", 1024, 1, 0.00893, 6),
	size("s-1vcpu-2gb", 2048, 1, 0.01786, 12),
	size("s-2vcpu-2gb", 2048, 2, 0.02679, 18),
	size("s-2vcpu-4gb", 4096, 2, 0.03571, 24),
	size("s-4vcpu-8gb", 8192, 4, 0.07143, 48),
}

func size(slug string, mem, vcpus int, hourly, monthly float64) map[string]any {
	return map[string]any{"slug": slug, "memory": mem, "vcpus": vcpus, "disk": 50, "transfer": 2.0,
		"price_monthly": monthly, "price_hourly": hourly, "regions": []string{"fra1", "ams3"}, "available": true,
		"description": "Basic"}
}
