package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/patchgit/patchgit/internal/gitops"
	"github.com/patchgit/patchgit/internal/helperrun"
)

// `patchgit helper ...` is what runs on a helper machine: the control
// plane uploads this binary there and runs it (internal/helperrun). People
// do not need it.
func init() {
	register("helper", command{"what runs on a helper machine (the daemon uses it): helper verify", runHelper})
}

const helperUsage = "Usage: patchgit helper verify --request FILE --bundle FILE [--root DIR]"

func runHelper(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintf(stdout, "%s\n\nWhat runs on a helper machine: the daemon uploads this binary there and runs it\n"+
			"(docs/helper.md). People do not need it.\n", helperUsage)
		return nil
	}
	if len(args) == 0 || args[0] != "verify" {
		return exitError{code: 2, msg: helperUsage}
	}
	fs := flag.NewFlagSet("helper verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reqFile := fs.String("request", "", "the verify request (JSON, written by the control plane)")
	bundle := fs.String("bundle", "", "a git bundle of the base commit")
	root := fs.String("root", ".", "where the fresh mirror and the sandbox live")
	fs.Usage = func() {
		fmt.Fprintf(stderr, helperUsage+"\n\n"+
			"Runs one sandbox verify on this machine and prints its result as JSON. The daemon runs\n"+
			"this on a helper machine; see docs/helper.md.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *reqFile == "" || *bundle == "" || fs.NArg() > 0 {
		return exitError{code: 2, msg: "helper verify needs --request FILE and --bundle FILE and no other arguments"}
	}
	f, err := os.Open(*reqFile)
	if err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("read request: %v", err)}
	}
	req, err := helperrun.DecodeRequest(f)
	f.Close()
	if err != nil {
		return exitError{code: 2, msg: fmt.Sprintf("read request %s: %v", *reqFile, err)}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	res, err := helperrun.VerifyHere(ctx, gitops.New(), *root, req, *bundle)
	if errors.Is(err, helperrun.ErrBadRequest) {
		return exitError{code: 2, msg: err.Error()}
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}
