package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/budget"
	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/store"
)

func init() {
	register("budget", command{"the hourly and daily budget: caps, spent, reserved, remaining, recent spends", runBudget})
}

// budgetParts builds the ledger (its changes go to the audit log in the
// same transaction), the prices and the policy from the config.
func budgetParts(cfg config.Config, db *store.DB, log *audit.Log) (*budget.Ledger, budget.Prices, budget.Policy, error) {
	b := cfg.Budget
	loc, err := time.LoadLocation(b.TimeZone)
	if err != nil {
		return nil, budget.Prices{}, budget.Policy{}, fmt.Errorf("budget.time_zone: %w", err)
	}
	caps := budget.Caps{Hour: b.HourlyCap.Micros(), Day: b.DailyCap.Micros(), CalendarDay: b.DayWindow == "calendar", Location: loc}
	journal := func(tx *bolt.Tx, kind, subject string, data map[string]string) error {
		_, err := log.Append(tx, kind, "patchgit", subject, data)
		return err
	}
	prices := budget.DefaultPrices()
	prices.Local = budget.NewHelperPrice(budget.LocalHelperSize, b.LocalHelperHourly.Micros(), 0)
	if len(b.Helpers) > 0 {
		prices.Helpers = nil
		for _, h := range b.Helpers {
			prices.Helpers = append(prices.Helpers, budget.NewHelperPrice(h.Size, h.Hourly.Micros(), h.MemoryMB))
		}
	}
	for _, m := range b.Models {
		prices.Models = append(prices.Models, budget.TokenPrice{Model: m.Model, Input: m.Input.Micros(), Output: m.Output.Micros(), Cached: m.Cached.Micros()})
	}
	pol := budget.DefaultPolicy()
	pol.MaxHelperMB, pol.MarginPercent = b.MaxHelperMB, b.MarginPercent
	return budget.NewLedger(db, caps, nil, journal), prices, pol, nil
}

// budgetJSON is `patchgit budget --json`: amounts in micro-dollars.
type budgetJSON struct {
	Hour   budget.WindowStatus  `json:"hour"`
	Day    budget.WindowStatus  `json:"day"`
	Recent []budget.Spend       `json:"recent"`
	Open   []budget.Reservation `json:"open"`
}

func runBudget(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("budget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := addGlobalFlags(fs)
	asJSON := fs.Bool("json", false, "print one JSON object (amounts in micro-dollars)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: patchgit budget [flags]\n\n"+
			"Both budget windows (the rolling hour and the day) with cap, spent, reserved and remaining,\n"+
			"then the recent spends. Caps and prices: budget.* in the config (docs/budget.md).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: "budget takes no arguments"}
	}
	return withService(g, func(ctx context.Context, svc core.Service, _ core.Admin) error {
		st, err := svc.Budget(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(budgetJSON{Hour: st.Hour, Day: st.Day, Recent: nonNil(st.Recent), Open: nonNil(st.Open)})
		}
		tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "WINDOW\tCAP\tSPENT\tRESERVED\tREMAINING")
		for _, w := range []budget.WindowStatus{st.Hour, st.Day} {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", w.Name, w.Cap, w.Spent, w.Reserved, w.Remaining)
		}
		tw.Flush()
		if len(st.Open) > 0 {
			fmt.Fprintln(stdout, "\nOpen reservations:")
			for _, r := range st.Open {
				fmt.Fprintf(stdout, "  %s  %s  %s  proposal %s  since %s\n", r.ID, r.Amount, r.Purpose, shortOrDash(r.Proposal), r.Created.Format(time.RFC3339))
			}
		}
		if len(st.Recent) == 0 {
			fmt.Fprintln(stdout, "\nNo spends yet.")
			return nil
		}
		fmt.Fprintln(stdout, "\nRecent spends (newest first):")
		tw = tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "  WHEN\tAMOUNT\tCATEGORY\tPROPOSAL\tWHAT")
		for _, s := range st.Recent {
			what := s.Purpose
			if s.Approved {
				what += " (approved extra spend)"
			}
			if s.Note != "" {
				what += " [" + s.Note + "]"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", s.To.Local().Format("2006-01-02 15:04:05"), s.Amount, s.Category, shortOrDash(s.Proposal), what)
		}
		return tw.Flush()
	})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func shortOrDash(id string) string {
	if id == "" {
		return "-"
	}
	return core.ShortID(id)
}
