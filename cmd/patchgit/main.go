// Command patchgit is PatchGit's one binary: the daemon (serve) and the
// operator's subcommands, which work whether or not the daemon runs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

// commands is the command tree; a subcommand in its own file registers
// itself with register in an init function.
var commands = map[string]command{
	"serve":   {"run the daemon: SSH server, jobs, control socket", runServe},
	"pin":     {"manage the PIN: pin set | unlock", runPin},
	"audit":   {"check or export the audit log: audit verify | export | reseal", runAudit},
	"prs":     {"list, show, close or merge pull requests of the local forge", runPRs},
	"version": {"print the version", runVersion},
}

func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("patchgit: command registered twice: " + name)
	}
	commands[name] = c
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "PatchGit %s: an AI proposes changes to your repositories; you press GO.\n\nUsage: patchgit <command> [flags]\n\nCommands:\n", version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'patchgit <command> --help' for a command's flags.\n")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "patchgit: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var ex exitError
		if errors.As(err, &ex) {
			if ex.msg != "" {
				fmt.Fprintln(stderr, "patchgit:", ex.msg)
			}
			return ex.code
		}
		fmt.Fprintln(stderr, "patchgit:", err)
		return 1
	}
	return 0
}

// exitError ends the command with a specific exit code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

func runVersion(args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "patchgit %s\n", version)
	return nil
}

// parseArgs parses flags wherever they stand among the positional
// arguments (`prs show 7 --data-dir X` as well as `prs --data-dir X show 7`),
// which the flag package alone stops at the first positional one.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
