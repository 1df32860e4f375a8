package core_test

import (
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

var allStates = []core.ProposalState{core.StateDraft, core.StateProposed, core.StateApproved, core.StateQueued,
	core.StateRunning, core.StatePublished, core.StateFailed, core.StateCancelled}

// The allowed transitions, written out independently of the table in
// statemachine.go: everything else must be refused.
var allowed = map[[2]core.ProposalState]bool{
	{core.StateDraft, core.StateProposed}:     true,
	{core.StateDraft, core.StateCancelled}:    true,
	{core.StateProposed, core.StateApproved}:  true,
	{core.StateProposed, core.StateDraft}:     true,
	{core.StateProposed, core.StateCancelled}: true,
	{core.StateApproved, core.StateQueued}:    true,
	{core.StateApproved, core.StateCancelled}: true,
	{core.StateQueued, core.StateRunning}:     true,
	{core.StateQueued, core.StateCancelled}:   true,
	{core.StateRunning, core.StatePublished}:  true,
	{core.StateRunning, core.StateFailed}:     true,
	{core.StateRunning, core.StateDraft}:      true,
	{core.StateRunning, core.StateQueued}:     true, // resumed after a crash
	{core.StatePublished, core.StateDraft}:    true, // a later revision of a published proposal
}

func TestEveryTransition(t *testing.T) {
	for _, from := range allStates {
		for _, to := range allStates {
			if got, want := core.CanTransition(from, to), allowed[[2]core.ProposalState{from, to}]; got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}
