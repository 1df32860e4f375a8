// Package helperrun runs the sandbox on a helper machine. The control
// plane (Runner) uploads its own patchgit binary when the helper lacks that
// exact build, a git bundle of the base commit (objects and one ref: no
// remote, no credential) and a Request, then runs `patchgit helper verify`
// there, which unbundles into a fresh bare repository and calls the same
// sandbox.Verify the control plane would (VerifyHere). The helper never
// receives a forge token or a key of the control plane.
package helperrun

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/patchgit/patchgit/internal/sandbox"
)

// Version is the request format's version; the helper runs the same
// binary as the control plane, so only an exact match is accepted.
const Version = 1

// Request is one sandbox verify to run on a helper (JSON on the wire).
type Request struct {
	Version int `json:"version"`
	// Repo names the helper's fresh mirror directory and so its check
	// caches; it is the configured repository name.
	Repo string `json:"repo"`
	// Base is the full commit id the change applies to; the bundle must
	// contain it.
	Base         string            `json:"base"`
	Diff         []byte            `json:"diff,omitempty"`
	Edits        []sandbox.Edit    `json:"edits,omitempty"`
	Command      string            `json:"command,omitempty"` // a repository-wide operation (a configured command)
	Checks       []string          `json:"checks,omitempty"`
	CheckSpecs   []sandbox.Check   `json:"check_specs,omitempty"`
	Prepare      []string          `json:"prepare,omitempty"`
	CheckTimeout time.Duration     `json:"check_timeout_ns,omitempty"`
	Limits       sandbox.Limits    `json:"limits"`
	Isolation    string            `json:"isolation,omitempty"` // sandbox.isolation of the control plane
	Resources    sandbox.Resources `json:"resources"`
}

var (
	repoName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	objectID = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)
)

// NewRequest is req (whose Base must be a full commit id) for the
// repository named repo.
func NewRequest(repo string, req sandbox.Request, isolation string, res sandbox.Resources) Request {
	return Request{Version: Version, Repo: repo, Base: req.Base, Diff: req.Diff, Edits: req.Edits,
		Command: req.Command, Checks: req.Checks, CheckSpecs: req.CheckSpecs, Prepare: req.Prepare, CheckTimeout: req.CheckTimeout,
		Limits: req.Limits, Isolation: isolation, Resources: res}
}

// Validate says what is wrong with r, naming the field.
func (r Request) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
	}
	switch {
	case r.Version != Version:
		return bad("version %d, this patchgit reads version %d (the control plane uploads its own binary; upload it again)", r.Version, Version)
	case !repoName.MatchString(r.Repo):
		return bad("repo %q is not a repository name like demo", r.Repo)
	case !objectID.MatchString(r.Base):
		return bad("base %q is not a full commit id", r.Base)
	case (r.Diff != nil && r.Edits != nil) || (r.Command != "" && (r.Diff != nil || r.Edits != nil)):
		return bad("give one of diff, edits or command")
	case r.Diff == nil && r.Edits == nil && r.Command == "":
		return bad("there is no change to verify (no diff, no edits, no command)")
	case r.CheckTimeout < 0:
		return bad("check_timeout_ns is negative")
	}
	return nil
}

// Sandbox is r as a sandbox request on the mirror at mirrorDir.
func (r Request) Sandbox(mirrorDir string) sandbox.Request {
	return sandbox.Request{MirrorDir: mirrorDir, Base: r.Base, Diff: r.Diff, Edits: r.Edits, Command: r.Command, Checks: r.Checks,
		CheckSpecs: r.CheckSpecs, Prepare: r.Prepare, CheckTimeout: r.CheckTimeout, Limits: r.Limits}
}

// DecodeRequest reads and validates a request; unknown fields are refused
// (a typo must not silently drop a limit).
func DecodeRequest(rd io.Reader) (Request, error) {
	var r Request
	dec := json.NewDecoder(io.LimitReader(rd, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("%w: not a JSON request: %v", ErrBadRequest, err)
	}
	if err := r.Validate(); err != nil {
		return Request{}, err
	}
	return r, nil
}
