package chain

import (
	"context"
	"fmt"
	"strings"

	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/assist/provider"
)

// TryEdits applies edits somewhere (in memory with ApplyEdits, or in the
// sandbox) and returns an error written for the model when they fail.
type TryEdits func(edits []assist.Edit) error

// PatchInput is what Patch reads.
type PatchInput struct {
	Request       string
	Plan          PlanResult
	Tree          []string
	Read          ReadFile
	Deny          *Deny
	ContextTokens int64
	Try           TryEdits
}

// PatchResult is the edits that applied, or the last error.
type PatchResult struct {
	Edits    []assist.Edit
	Context  Context
	Calls    []Call // one, or two when an error was sent back
	Failures []string
	// ModelConfidence is the model's own 0..100 assessment from the answer
	// whose edits applied (its CONFIDENCE line); nil when it gave none.
	ModelConfidence *int
}

const patchSystem = `You write changes to a git repository for PatchGit as search/replace blocks and nothing else that looks like one:

path/to/file.go
<<<<<<< SEARCH
the exact current lines to replace, whitespace included, enough of them to be unique
=======
the lines to put instead
>>>>>>> REPLACE

To create a new file, leave the SEARCH part empty and put the whole file in the replacement.
Put each file's path alone on the line before its block. Send every block the change needs.
End your answer with one line of your own assessment, from 0 to 100, that the change does what was asked:
CONFIDENCE: <0-100>`

// Patch asks for edits, tries them, and on a malformed or failing answer
// sends the exact error back once before giving up with ErrEditsFailed.
func Patch(ctx context.Context, st Stage, in PatchInput) (PatchResult, error) {
	c := Gather(in.Tree, in.Read, in.Deny, in.Request, in.Plan.Targets, in.ContextTokens)
	var b strings.Builder
	c.render(&b, false)
	fmt.Fprintf(&b, "Request:\n%s\n\nPlan:\n%s\n\nTargets: %s\n", in.Request, in.Plan.Plan, strings.Join(in.Plan.Targets, ", "))
	msgs := []provider.Message{{Role: provider.RoleUser, Content: b.String()}}
	res := PatchResult{Context: c}
	for attempt := 1; attempt <= 2; attempt++ {
		call, err := st.ask(ctx, patchSystem, msgs)
		res.Calls = append(res.Calls, call)
		if err != nil {
			return res, fmt.Errorf("patch: %w", err)
		}
		edits, failure := check(call.Response, in.Try)
		if failure == nil {
			res.Edits = edits
			res.ModelConfidence = ModelConfidence(call.Response.Text)
			return res, nil
		}
		res.Failures = append(res.Failures, failure.Error())
		msgs = append(msgs, provider.Message{Role: provider.RoleAssistant, Content: call.Response.Text},
			provider.Message{Role: provider.RoleUser, Content: "Your edits could not be applied:\n" + failure.Error() +
				"\n\nSend the corrected change again: all of its search/replace blocks, measured against the files as they were."})
	}
	return res, fmt.Errorf("patch: %w twice; the last error: %s", ErrEditsFailed, res.Failures[len(res.Failures)-1])
}

// check parses an answer into edits and tries them.
func check(res provider.Response, try TryEdits) ([]assist.Edit, error) {
	change, err := assist.Parse(res.Text)
	if err != nil {
		return nil, err
	}
	if change.Kind != assist.KindEdits {
		msg := "the answer holds no search/replace blocks"
		if res.Truncated() {
			msg += " (it was cut at the output token limit; send fewer or smaller blocks)"
		}
		return nil, fmt.Errorf("%w: %s", ErrNoEdits, msg)
	}
	if err := try(change.Edits); err != nil {
		return nil, err
	}
	return change.Edits, nil
}
