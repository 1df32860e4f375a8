package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"

	"github.com/patchgit/patchgit/internal/sandbox"
	"golang.org/x/sys/unix"
)

func init() {
	register("doctor", command{"check the setup (config, git, data dir, sandbox isolation) and say what to fix", runDoctor})
}

// runDoctor prints one line per finding and exits 1 when something is
// broken (warnings alone exit 0).
func runDoctor(args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("doctor", flag.ContinueOnError)
	flags.SetOutput(stderr)
	g := addGlobalFlags(flags)
	if err := flags.Parse(args); err != nil {
		return err
	}
	var findings []sandbox.Finding
	cfg, err := g.load()
	if err != nil {
		findings = append(findings, sandbox.Finding{Name: "config", Detail: err.Error(), Fix: "correct the config file or the PATCHGIT_* variable named"})
	} else {
		findings = append(findings, sandbox.Finding{Name: "config", OK: true, Detail: "valid; data dir " + cfg.DataDir})
		findings = append(findings, dataDirFinding(cfg.DataDir))
	}
	if out, err := exec.Command("git", "--version").Output(); err != nil {
		findings = append(findings, sandbox.Finding{Name: "git", Detail: "not runnable: " + err.Error(), Fix: "apt-get install git"})
	} else {
		findings = append(findings, sandbox.Finding{Name: "git", OK: true, Detail: strings.TrimSpace(string(out))})
	}
	isolation := sandbox.ModeAuto
	if err == nil {
		isolation = cfg.Sandbox.Isolation
	}
	findings = append(findings, sandbox.Diagnose(context.Background(), sandbox.Options{Isolation: isolation})...)
	broken := 0
	for _, f := range findings {
		status := "ok  "
		switch {
		case f.OK:
		case f.Warn:
			status = "WARN"
		default:
			status = "FAIL"
			broken++
		}
		fmt.Fprintf(stdout, "%s %-12s %s\n", status, f.Name, f.Detail)
		if !f.OK && f.Fix != "" {
			fmt.Fprintf(stdout, "     %-12s fix: %s\n", "", f.Fix)
		}
	}
	if broken > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d problem(s) found; fix them and run `patchgit doctor` again", broken)}
	}
	fmt.Fprintln(stdout, "all good")
	return nil
}

// dataDirFinding: the data dir exists (or can be made) and is writable.
func dataDirFinding(dir string) sandbox.Finding {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return sandbox.Finding{Name: "data dir", OK: true, Detail: dir + " does not exist yet; `patchgit serve` creates it"}
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return sandbox.Finding{Name: "data dir", Detail: dir + " is not writable: " + err.Error(), Fix: "chown it to this user"}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil {
		free := st.Bavail * uint64(st.Bsize)
		if free < 1<<30 {
			return sandbox.Finding{Name: "data dir", Warn: true, Detail: fmt.Sprintf("%s has only %d MiB free", dir, free>>20), Fix: "free disk space: checks and mirrors need room"}
		}
		return sandbox.Finding{Name: "data dir", OK: true, Detail: fmt.Sprintf("%s writable, %d GiB free", dir, free>>30)}
	}
	return sandbox.Finding{Name: "data dir", OK: true, Detail: dir + " writable"}
}
