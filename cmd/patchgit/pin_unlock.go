package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/patchgit/patchgit/internal/core"
)

// runPinUnlock reopens the PIN gate: through the control socket when the
// daemon runs (local only: the socket is 0600 and checks the peer's uid),
// on the store otherwise.
func runPinUnlock(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pin unlock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := addGlobalFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: patchgit pin unlock [flags]\n\nReopens the PIN gate after wrong PINs locked it: clears the lock, the failure count and the\n"+
			"delay of both the anonymous and the key holders' door, and every source penalty. Audited.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: "pin unlock takes no arguments"}
	}
	return withService(g, func(ctx context.Context, _ core.Service, admin core.Admin) error {
		u, err := admin.UnlockPIN(ctx, operator)
		if err != nil {
			return err
		}
		state := "was not locked"
		if u.WasLocked {
			state = "was locked"
		}
		fmt.Fprintf(stdout, "PIN gate unlocked: it %s; cleared %d wrong PIN(s), %d key holder failure(s), %d source penalty(ies).\n",
			state, u.Failures, u.KeyFailures, u.Penalties)
		return nil
	})
}
