package budget

import (
	"strings"
	"testing"
	"time"
)

func TestProjectionRulesAndDowngrades(t *testing.T) {
	prices := DefaultPrices()
	prices.Models = []TokenPrice{{Model: "big", Input: 3 * Dollar, Output: 15 * Dollar}}
	pol := DefaultPolicy()
	st := Status{Hour: WindowStatus{Remaining: 50_000}, Day: WindowStatus{Remaining: 500_000}}
	plan := Plan{Name: "full", Stages: []Stage{
		{Name: "plan", Tier: TierExternal, Model: "big", InputTokens: 10_000, OutputTokens: 2_000},
		{Name: "verify", Tier: TierHelper, HelperSize: "s-4vcpu-8gb", Helpers: 2, Duration: 30 * time.Minute},
	}}
	pr, err := prices.Project(plan, pol, st)
	if err != nil {
		t.Fatal(err)
	}
	// 10k*3 + 2k*15 = 60,000 micros; 2 x 1800 s of $0.071429/h = 2 x 35,715.
	if pr.Total != 60_000+2*35_715 || pr.Fits || !pr.NeedsApproval {
		t.Fatalf("projection %+v", pr)
	}
	why := strings.Join(pr.Why, " | ")
	for _, want := range []string{"external API", "2 helpers", "larger than policy", "left this hour"} {
		if !strings.Contains(why, want) {
			t.Errorf("why lacks %q: %s", want, why)
		}
	}
	downs := prices.Downgrades(plan, pol)
	names := []string{}
	for _, d := range downs {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "full-smaller-helper,full-no-helper,full-base-only,full-smaller-scope" {
		t.Fatalf("downgrades in order: %v", names)
	}
	if !downs[3].ChangesDiff {
		t.Fatal("a smaller scope must be marked as changing the diff")
	}
	pick, ppr, ok := prices.Cheapest(downs, pol, st)
	if !ok || pick.Name != "full-base-only" || ppr.Total != 0 {
		t.Fatalf("cheapest without approval: %v %+v %v", pick.Name, ppr, ok)
	}
	if got := pol.ApprovalAmount(100_001); got != 110_002 {
		t.Fatalf("approval amount with 10%% margin: %d", got)
	}
}
