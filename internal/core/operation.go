package core

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/assess"
	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/sandbox"
)

// Repository-wide operations: `/run NAME` in the chat makes a revision
// whose change is what a command from the repository's config
// (repos[].operations) writes when it runs in the sandbox (gofmt -w ., go
// mod tidy, a codemod). The command is the operator's, never the chat's:
// the message only names it. The draft job runs it with the checks'
// isolation (sandbox.Request.Command, on the helper when the repository
// needs one), computes the diff from the tree, admits it like a patch, and
// runs the checks on that tree.

// SourceOperation marks a revision a repository-wide operation makes.
const SourceOperation = assess.SourceOperation

// kindOperation is the assist.Change kind of a `/run NAME` message (the
// offline assistant never returns it; core sets it).
const kindOperation assist.Kind = "operation"

// runCommand is the chat command that runs an operation.
const runCommand = "/run"

// OperationRun is the operation a revision ran and what it did: the
// command as configured when the draft job ran, and its run's output
// (capped as a check's is).
type OperationRun struct {
	Name     string        `json:"name"`
	Command  string        `json:"command"`
	ExitCode int           `json:"exit_code"`
	Passed   bool          `json:"passed"`
	TimedOut bool          `json:"timed_out,omitempty"`
	Output   string        `json:"output"`
	Duration time.Duration `json:"duration_ns"`
	Mode     string        `json:"mode"` // the isolation it ran under
}

// parseRun reads a `/run [NAME]` message: ok is false for any other
// message; args are the words after /run.
func parseRun(text string) (args []string, ok bool) {
	t := strings.TrimSpace(text)
	if t != runCommand && !strings.HasPrefix(t, runCommand+" ") && !strings.HasPrefix(t, runCommand+"\t") {
		return nil, false
	}
	return strings.Fields(t)[1:], true
}

// operationNameOf is the operation a SourceOperation revision names.
func operationNameOf(rev *Revision) string {
	args, _ := parseRun(rev.Request)
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// operationNames are a repository's operations, sorted.
func operationNames(repo RepoSpec) []string {
	return slices.Sorted(maps.Keys(repo.Operations))
}

// operationList is the reply to `/run` alone: every operation with its
// command, or how to configure one.
func operationList(repo RepoSpec) string {
	if len(repo.Operations) == 0 {
		return fmt.Sprintf("%s has no repository operations. The operator adds them to the config, e.g.\n"+
			"repos:\n  - name: %s\n    operations:\n      fmt: gofmt -w .\n      tidy: go mod tidy\n"+
			"Then `/run fmt` proposes what the command changes.", repo.Name, repo.Name)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Operations of %s (`/run NAME` runs one in the sandbox and proposes what it changes):", repo.Name)
	for _, name := range operationNames(repo) {
		fmt.Fprintf(&b, "\n  %s: %s", name, repo.Operations[name])
	}
	return b.String()
}

// unknownOperation says a name is not configured and lists the known ones.
func unknownOperation(repo RepoSpec, name string) string {
	known := "it has none (repos[].operations in the config)"
	if names := operationNames(repo); len(names) > 0 {
		known = "known: " + strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s has no operation %q; %s. `/run` alone lists them.", repo.Name, name, known)
}

// sendRun answers a `/run` message: the list, an error, or a new revision
// whose draft job runs the operation. user is appended to the
// conversation first, like any message.
func (c *Core) sendRun(tx *bolt.Tx, emit func(Event), actor string, cv *Conversation, text string, args []string) (*Proposal, error) {
	repo, err := c.repo(cv.Repo)
	if err != nil {
		return nil, err
	}
	reject := func(reason string) error {
		if _, err := c.opt.Audit.Append(tx, "message.rejected", actor, cv.ID, map[string]string{"reason": reason}); err != nil {
			return err
		}
		return c.say(tx, emit, cv.ID, "", reason+"\nNothing was proposed or pushed.")
	}
	switch {
	case len(args) == 0:
		return nil, c.say(tx, emit, cv.ID, "", operationList(repo))
	case len(args) > 1:
		return nil, reject(fmt.Sprintf("`/run` takes one operation name and no arguments (the command is the config's); got %q", strings.Join(args, " ")))
	}
	command, ok := repo.Operations[args[0]]
	if !ok {
		return nil, reject(unknownOperation(repo, args[0]))
	}
	title := fmt.Sprintf("Run %s: %s", args[0], command)
	if len(title) > 72 {
		title = title[:69] + "..."
	}
	p, err := c.reviseOrCreate(tx, emit, actor, cv, text, assist.Change{Kind: kindOperation, Title: title})
	if err != nil {
		return nil, err
	}
	return p, c.say(tx, emit, cv.ID, p.ID, fmt.Sprintf("Drafting proposal %s revision %d: running operation %s (%s) in the sandbox, then the checks on what it changed…",
		ShortID(p.ID), len(p.Revisions), args[0], command))
}

// operationRequest is the sandbox request of a SourceOperation revision:
// the command as configured now (an operation removed from the config
// since the message does not run).
func operationRequest(repo RepoSpec, rev *Revision) (string, error) {
	name := operationNameOf(rev)
	command, ok := repo.Operations[name]
	if !ok {
		return "", &Failure{User: unknownOperation(repo, name) + " (it was removed from the config after the message was sent)"}
	}
	return command, nil
}

// operationRun is what the revision keeps of the sandbox's run.
func operationRun(name string, r *sandbox.CheckResult) *OperationRun {
	if r == nil {
		return nil
	}
	return &OperationRun{Name: name, Command: r.Command, ExitCode: r.ExitCode, Passed: r.Passed, TimedOut: r.TimedOut,
		Output: r.Output, Duration: r.Duration, Mode: r.Mode}
}

// operationPlan says what the operation did and what GO does with it.
func operationPlan(repo RepoSpec, name string, res sandbox.Result, base, branch string) []string {
	command := ""
	if res.Operation != nil {
		command = res.Operation.Command
	}
	lines := []string{fmt.Sprintf("Run the repository operation %s (`%s`) in the sandbox at %s (no network, no credentials, the checks' limits); the diff shown is what it changed: %d file(s).",
		name, command, shortSHA(base), len(res.Files))}
	if op := res.Operation; op != nil {
		lines = append(lines, fmt.Sprintf("It ran under %s in %s and exited %d; its output is kept with the revision (Operation).",
			op.Mode, op.Duration.Round(time.Millisecond), op.ExitCode))
	}
	return append(lines, goLines(repo, base, branch)...)
}
