package config

import (
	"strings"
	"testing"
)

func TestBudgetSettingsAreValidated(t *testing.T) {
	_, err := Load("", false, []string{"HOME=/h",
		"PATCHGIT_BUDGET_HOURLY_CAP=$2.00", "PATCHGIT_BUDGET_DAILY_CAP=$1.00",
		"PATCHGIT_BUDGET_DAY_WINDOW=weekly", "PATCHGIT_BUDGET_TIME_ZONE=Mars/Olympus",
		"PATCHGIT_BUDGET_METER_SLICE=1s", "PATCHGIT_BUDGET_APPROVAL_MARGIN_PERCENT=150"})
	for _, want := range []string{
		"budget.daily_cap: $1.00 is below hourly_cap $2.00",
		`budget.day_window: "weekly" is not valid (valid: rolling, calendar)`,
		`budget.time_zone: "Mars/Olympus" is not a time zone name`,
		"budget.meter_slice: 1s is too short",
		"budget.approval_margin_percent: 150 is outside 0..100",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\n does not contain %q", err, want)
		}
	}
	_, err = Load("", false, []string{"HOME=/h", "PATCHGIT_BUDGET_HOURLY_CAP=lots"})
	if err == nil || !strings.Contains(err.Error(), `PATCHGIT_BUDGET_HOURLY_CAP (sets budget.hourly_cap): "lots" is not an amount of dollars`) {
		t.Errorf("bad amount: %v", err)
	}
}

func TestBudgetPricesFromTheFile(t *testing.T) {
	cfg, err := Load(writeConfig(t, "budget:\n  hourly_cap: 0.50\n  helpers:\n    - {size: s-2vcpu-4gb, hourly: $0.035715, memory_mb: 4096}\n  models:\n    - {model: m, input: $3, output: $15, cached: $0.30}\n"), true, []string{"HOME=/h"})
	if err != nil {
		t.Fatal(err)
	}
	b := cfg.Budget
	if b.HourlyCap != 500_000 || len(b.Helpers) != 1 || b.Helpers[0].Hourly != 35_715 || b.Models[0].Output != 15_000_000 || b.Models[0].Cached != 300_000 {
		t.Fatalf("budget from the file: %+v", b)
	}
}
