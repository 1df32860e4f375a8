package budget

import (
	"fmt"
	"time"
)

// Stage is one priced step of a plan.
type Stage struct {
	Name string `json:"name"`
	Tier Tier   `json:"tier"`
	// Model and token estimates, for the external tier (and helper-tier
	// models, whose cost is the helper's time).
	Model        string `json:"model,omitempty"`
	InputTokens  int64  `json:"input_tokens,omitempty"`
	OutputTokens int64  `json:"output_tokens,omitempty"`
	CachedTokens int64  `json:"cached_tokens,omitempty"`
	// HelperSize and Duration, for the helper tier; Helpers is how many
	// run at once (0 means 1).
	HelperSize string        `json:"helper_size,omitempty"`
	Helpers    int           `json:"helpers,omitempty"`
	Duration   time.Duration `json:"duration,omitempty"`
}

// Plan is a sequence of stages. ChangesDiff marks a plan (a smaller scope)
// whose result is a different diff: it becomes a new revision for review,
// never a GO.
type Plan struct {
	Name        string  `json:"name"`
	Summary     string  `json:"summary"`
	Stages      []Stage `json:"stages"`
	ChangesDiff bool    `json:"changes_diff,omitempty"`
}

// Line is one stage's cost in a projection.
type Line struct {
	Stage string `json:"stage"`
	What  string `json:"what"`
	Cost  Micros `json:"cost"`
}

// Projection is a plan's cost against what is left.
type Projection struct {
	Plan          string   `json:"plan"`
	Total         Micros   `json:"total"`
	Lines         []Line   `json:"lines"`
	HourRemaining Micros   `json:"hour_remaining"`
	DayRemaining  Micros   `json:"day_remaining"`
	Fits          bool     `json:"fits"`           // within both remaining budgets
	NeedsApproval bool     `json:"needs_approval"` // any rule below
	Why           []string `json:"why,omitempty"`  // the rules that ask for approval
}

// Policy is what runs without asking.
type Policy struct {
	MaxHelpers    int // at most this many helpers at once (canon: 1)
	MaxHelperMB   int // the largest helper size by memory (canon: 2-4 GB)
	MarginPercent int // the approved amount is the projection plus this
}

// DefaultPolicy is the canon's: one helper of at most 4 GB, 10% margin.
func DefaultPolicy() Policy { return Policy{MaxHelpers: 1, MaxHelperMB: 4096, MarginPercent: 10} }

// ApprovalAmount is what approving a projection allows: the total plus
// the margin, rounded up.
func (pol Policy) ApprovalAmount(total Micros) Micros {
	return total + Micros(ceilDiv(int64(total)*int64(pol.MarginPercent), 100))
}

// Project prices plan and says whether it fits what st has left and which
// rules ask for approval: over the remaining budget, more than one helper,
// a helper larger than policy, or any external API call.
func (p Prices) Project(plan Plan, pol Policy, st Status) (Projection, error) {
	pr := Projection{Plan: plan.Name, HourRemaining: st.Hour.Remaining, DayRemaining: st.Day.Remaining, Lines: []Line{}}
	why := map[string]bool{}
	add := func(s string) {
		if !why[s] {
			why[s] = true
			pr.Why = append(pr.Why, s)
		}
	}
	for _, s := range plan.Stages {
		var line Line
		switch s.Tier {
		case TierBase, "":
			line = Line{Stage: s.Name, What: "runs here, no charge"}
		case TierHelper:
			h, err := p.Helper(s.HelperSize)
			if err != nil {
				return Projection{}, fmt.Errorf("project %s: %w", plan.Name, err)
			}
			n := max(1, s.Helpers)
			line = Line{Stage: s.Name, Cost: Micros(n) * h.Cost(s.Duration),
				What: fmt.Sprintf("%d x helper %s for %s at %s/hour", n, h.Size, s.Duration.Round(time.Second), h.Hourly)}
			if n > pol.MaxHelpers {
				add(fmt.Sprintf("needs %d helpers; policy allows %d", n, pol.MaxHelpers))
			}
			if h.MemoryMB > pol.MaxHelperMB {
				add(fmt.Sprintf("helper %s (%d MB) is larger than policy allows (%d MB)", h.Size, h.MemoryMB, pol.MaxHelperMB))
			}
		case TierExternal:
			m, err := p.Model(s.Model)
			if err != nil {
				return Projection{}, fmt.Errorf("project %s: %w", plan.Name, err)
			}
			line = Line{Stage: s.Name, Cost: m.Cost(s.InputTokens, s.OutputTokens, s.CachedTokens),
				What: fmt.Sprintf("%s: %d in, %d out, %d cached tokens", m.Model, s.InputTokens, s.OutputTokens, s.CachedTokens)}
			add("calls an external API (" + m.Model + ")")
		default:
			return Projection{}, fmt.Errorf("project %s: stage %s has unknown tier %q", plan.Name, s.Name, s.Tier)
		}
		pr.Total += line.Cost
		pr.Lines = append(pr.Lines, line)
	}
	pr.Fits = pr.Total <= st.Hour.Remaining && pr.Total <= st.Day.Remaining
	if !pr.Fits {
		add(fmt.Sprintf("costs %s but the budget has %s left this hour and %s today", pr.Total, st.Hour.Remaining, st.Day.Remaining))
	}
	pr.NeedsApproval = len(pr.Why) > 0
	return pr, nil
}

// Downgrades lists cheaper variants of plan, in the order to try them:
// a smaller helper (the largest policy allows), no helper (helper stages
// run here), base tier only (no external calls), and last a smaller scope,
// which changes the diff.
func (p Prices) Downgrades(plan Plan, pol Policy) []Plan {
	var out []Plan
	mod := func(name, summary string, f func(s *Stage) bool) {
		changed := false
		np := Plan{Name: name, Summary: summary, ChangesDiff: plan.ChangesDiff}
		for _, s := range plan.Stages {
			if f(&s) {
				changed = true
			}
			np.Stages = append(np.Stages, s)
		}
		if changed {
			out = append(out, np)
		}
	}
	var allowed *HelperPrice
	for i, h := range p.Helpers {
		if h.MemoryMB <= pol.MaxHelperMB && (allowed == nil || h.MemoryMB > allowed.MemoryMB) {
			allowed = &p.Helpers[i]
		}
	}
	if allowed != nil {
		mod(plan.Name+"-smaller-helper", "one helper of "+allowed.Size, func(s *Stage) bool {
			if s.Tier != TierHelper || s.HelperSize == LocalHelperSize {
				return false
			}
			h, err := p.Helper(s.HelperSize)
			if err != nil || (h.MemoryMB <= pol.MaxHelperMB && max(1, s.Helpers) <= pol.MaxHelpers) {
				return false
			}
			s.HelperSize, s.Helpers = allowed.Size, 1
			return true
		})
	}
	mod(plan.Name+"-no-helper", "no helper: every stage runs here", func(s *Stage) bool {
		if s.Tier != TierHelper {
			return false
		}
		s.Tier, s.HelperSize, s.Helpers = TierBase, "", 0
		return true
	})
	mod(plan.Name+"-base-only", "base tier only: no helper, no external API", func(s *Stage) bool {
		if s.Tier == TierBase {
			return false
		}
		s.Tier, s.HelperSize, s.Helpers, s.Model = TierBase, "", 0, ""
		return true
	})
	if !plan.ChangesDiff {
		out = append(out, Plan{Name: plan.Name + "-smaller-scope", ChangesDiff: true,
			Summary: "a smaller scope or more questions: a new revision to review, not a GO"})
	}
	return out
}

// Cheapest returns the first of plans that fits and needs no approval.
func (p Prices) Cheapest(plans []Plan, pol Policy, st Status) (Plan, Projection, bool) {
	for _, pl := range plans {
		pr, err := p.Project(pl, pol, st)
		if err == nil && !pr.NeedsApproval {
			return pl, pr, true
		}
	}
	return Plan{}, Projection{}, false
}
