package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/patchgit/patchgit/internal/audit"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/store"
)

const operator = "operator" // the actor named in audit entries for local CLI acts

func runPin(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pin set", flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := addGlobalFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: patchgit pin set [flags]\n\nReads the new PIN (6 to 12 digits) from the terminal, or from stdin when it is not a terminal.\nThe PIN is never taken from an argument: arguments show up in ps and shell history.\n\n")
		fs.PrintDefaults()
	}
	if len(args) > 0 && args[0] == "unlock" {
		return runPinUnlock(args[1:], stdout, stderr) // pin_unlock.go
	}
	if len(args) == 0 || args[0] != "set" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fs.Usage()
			return flag.ErrHelp
		}
		fs.Usage()
		return exitError{code: 2, msg: "pin: say set or unlock"}
	}
	rest, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return exitError{code: 2, msg: "pin set takes no arguments: type the PIN when asked, or pipe it on stdin"}
	}
	newPIN, err := readPIN(stderr)
	if err != nil {
		return err
	}
	return withService(g, func(ctx context.Context, _ core.Service, admin core.Admin) error {
		if err := admin.SetPIN(ctx, operator, newPIN); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "PIN changed.")
		return nil
	})
}

func readPIN(prompt io.Writer) (string, error) {
	fd := int(os.Stdin.Fd())
	if term.IsTerminal(fd) {
		fmt.Fprint(prompt, "New PIN: ")
		a, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Repeat it: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", exitError{code: 1, msg: "the two PINs differ; nothing changed"}
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(os.Stdin, 256)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

func runAudit(args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := addGlobalFlags(fs)
	out := fs.String("out", "", "export: write to this file instead of stdout")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: patchgit audit verify|export|reseal [flags]\n\n"+
			"verify: checks the hash chain and the head file (audit.head); exits 1 on any changed, deleted,\n"+
			"        reordered or truncated entry. Copy the printed head off the machine to detect truncation later.\n"+
			"export: writes the log as JSON lines.\n"+
			"reseal: rewrites audit.head from the database (after restoring a backup on purpose); the daemon\n"+
			"        must be stopped, and only after verify passed on everything but the head file.\n\n")
		fs.PrintDefaults()
	}
	switch sub {
	case "verify", "export", "reseal":
	case "-h", "--help":
		fs.Usage()
		return flag.ErrHelp
	default:
		fs.Usage()
		return exitError{code: 2, msg: "audit: say verify, export or reseal"}
	}
	if rest, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return exitError{code: 2, msg: "audit " + sub + ": unexpected argument " + strconv.Quote(rest[0])}
	}
	if sub == "reseal" {
		return resealAudit(g, stdout)
	}
	return withService(g, func(ctx context.Context, svc core.Service, _ core.Admin) error {
		if sub == "verify" {
			r, err := svc.VerifyAudit(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "entries: %d\nhead: %d %s\n", r.Entries, r.HeadSeq, r.HeadHash)
			if !r.OK {
				return exitError{code: 1, msg: "audit log FAILED verification: " + r.Problem}
			}
			fmt.Fprintln(stdout, "audit log OK")
			return nil
		}
		w := stdout
		if *out != "" {
			f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		entries, err := svc.Audit(ctx, 0, 0)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	})
}

func runPRs(args []string, stdout, stderr io.Writer) error {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("prs "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := addGlobalFlags(fs)
	repo := fs.String("repo", "", "repository (default: all for list, the only one or 'demo' otherwise)")
	asJSON := fs.Bool("json", false, "list/show: print JSON")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: patchgit prs [list|show N|close N|merge N] [flags]\n\n"+
			"Pull requests of the local forge. PatchGit never merges on its own: merge is your explicit act.\n\n")
		fs.PrintDefaults()
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	number := 0
	if sub == "list" && len(rest) > 0 {
		return exitError{code: 2, msg: "prs list: unexpected argument " + strconv.Quote(rest[0])}
	}
	if sub != "list" {
		if sub != "show" && sub != "close" && sub != "merge" {
			fs.Usage()
			return exitError{code: 2, msg: "prs: unknown subcommand " + strconv.Quote(sub)}
		}
		if len(rest) != 1 {
			return exitError{code: 2, msg: "prs " + sub + ": give the PR number"}
		}
		n, err := strconv.Atoi(strings.TrimPrefix(rest[0], "#"))
		if err != nil || n < 1 {
			return exitError{code: 2, msg: "prs " + sub + ": " + strconv.Quote(rest[0]) + " is not a PR number"}
		}
		number = n
	}
	return withService(g, func(ctx context.Context, svc core.Service, _ core.Admin) error {
		r := *repo
		if r == "" && sub != "list" {
			repos, err := svc.Repos(ctx)
			if err != nil {
				return err
			}
			if len(repos) != 1 {
				return exitError{code: 2, msg: "prs " + sub + ": several repositories are configured; say which with --repo"}
			}
			r = repos[0].Name
		}
		switch sub {
		case "close":
			pr, err := svc.ClosePR(ctx, operator, r, number)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "closed %s#%d\n", pr.Repo, pr.Number)
			return nil
		case "merge":
			pr, err := svc.MergePR(ctx, operator, r, number)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "merged %s#%d (%s into %s)\n", pr.Repo, pr.Number, pr.Head, pr.Base)
			return nil
		}
		prs, err := svc.PRs(ctx, r)
		if err != nil {
			return err
		}
		if sub == "show" {
			for _, pr := range prs {
				if pr.Number == number {
					if *asJSON {
						return json.NewEncoder(stdout).Encode(pr)
					}
					fmt.Fprintf(stdout, "%s#%d %s\nstate: %s\nhead: %s\nbase: %s\ncreated: %s\n\n%s\n",
						pr.Repo, pr.Number, pr.Title, pr.State, pr.Head, pr.Base, pr.Created.Format("2006-01-02 15:04 MST"), pr.Body)
					return nil
				}
			}
			return exitError{code: 1, msg: fmt.Sprintf("no PR #%d in %s", number, r)}
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(prs)
		}
		if len(prs) == 0 {
			fmt.Fprintln(stdout, "no pull requests yet")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "REPO\tPR\tSTATE\tHEAD\tTITLE")
		for _, pr := range prs {
			fmt.Fprintf(tw, "%s\t#%d\t%s\t%s\t%s\n", pr.Repo, pr.Number, pr.State, pr.Head, pr.Title)
		}
		return tw.Flush()
	})
}

// resealAudit works on the store directly: the daemon must be stopped, so
// nothing appends while the head file is rewritten.
func resealAudit(g *globalFlags, stdout io.Writer) error {
	cfg, err := g.load()
	if err != nil {
		return err
	}
	db, err := store.Open(dataPath(cfg, dbFile), store.Options{Timeout: 500 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return exitError{code: 1, msg: "the daemon is running: stop it before resealing (its next append rewrites the head file anyway)"}
	}
	if err != nil {
		return err
	}
	defer db.Close()
	log := audit.New(db, dataPath(cfg, auditHead))
	if err := log.Reseal(); err != nil {
		return err
	}
	seq, hash, err := log.Head()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "head file rewritten: %d %s\n", seq, hash)
	return nil
}
