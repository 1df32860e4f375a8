package sandbox

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Finding is one line of `patchgit doctor`: what was checked, whether it
// is fine, and what to do when it is not.
type Finding struct {
	Name   string
	OK     bool
	Warn   bool // not fatal: PatchGit works, with less protection
	Detail string
	Fix    string
}

// Diagnose checks what the sandbox needs on this machine and runs one
// real command through the runner opts choose.
func Diagnose(ctx context.Context, opts Options) []Finding {
	var out []Finding
	if path, err := bwrapUsable(); err == nil {
		out = append(out, Finding{Name: "bubblewrap", OK: true, Detail: path + " creates namespaces"})
	} else {
		out = append(out, Finding{Name: "bubblewrap", Warn: true, Detail: err.Error(), Fix: "apt-get install bubblewrap (the strongest isolation)"})
	}
	if err := namespacesUsable(); err == nil {
		out = append(out, Finding{Name: "namespaces", OK: true, Detail: "mount, PID, network, IPC and UTS namespaces work"})
	} else {
		out = append(out, Finding{Name: "namespaces", Warn: true, Detail: err.Error(), Fix: "allow user namespaces, or run PatchGit as root"})
	}
	if os.Geteuid() == 0 {
		for _, tool := range []string{setprivPath, prlimitPath} {
			if _, err := os.Stat(tool); err != nil {
				out = append(out, Finding{Name: tool, Detail: "missing: checks cannot drop to an unprivileged uid or get their limits", Fix: "apt-get install util-linux"})
			} else {
				out = append(out, Finding{Name: tool, OK: true, Detail: "present"})
			}
		}
		c := opts.cred()
		out = append(out, Finding{Name: "check uid", OK: true, Detail: fmt.Sprintf("checks run as host uid %d, gid %d (PatchGit runs as root)", c.Uid, c.Gid)})
	} else if _, err := os.Stat(prlimitPath); err != nil {
		out = append(out, Finding{Name: prlimitPath, Detail: "missing: checks cannot get their limits", Fix: "apt-get install util-linux"})
	}
	if cg, err := newCgroup(DefaultResources()); err == nil {
		detail := "pids controller (v1) usable"
		if cg.memory != "" {
			detail = "pids and memory controllers (v1) usable"
		}
		cg.remove()
		out = append(out, Finding{Name: "cgroups", OK: true, Detail: detail})
	} else {
		out = append(out, Finding{Name: "cgroups", Warn: true, Detail: err.Error() + ": processes are limited by RLIMIT_NPROC (per uid), memory is not limited",
			Fix: "run PatchGit as root on a host with the cgroup v1 pids and memory controllers"})
	}
	if opts.NoLayers {
		out = append(out, Finding{Name: "work dirs", OK: true, Detail: "full checkout per Verify (layers turned off)"})
	} else if layeredUsable() {
		out = append(out, Finding{Name: "work dirs", OK: true, Detail: "layered: a cached pristine tree per base under an overlay with a size-capped tmpfs"})
	} else {
		out = append(out, Finding{Name: "work dirs", Warn: true, Detail: "full checkout per Verify: layered work dirs need root and overlayfs",
			Fix: "run PatchGit as root for fast, disk-capped work dirs"})
	}
	r := opts.Runner
	var err error
	if r == nil {
		r, err = NewRunner(opts)
	}
	if err != nil {
		return append(out, Finding{Name: "isolation", Detail: err.Error(), Fix: "install bubblewrap, or set sandbox.isolation: plain to run checks unisolated"})
	}
	mode := Finding{Name: "isolation", OK: true, Detail: "checks run in mode " + r.Mode()}
	if r.Mode() == ModePlain {
		mode = Finding{Name: "isolation", Warn: true, Detail: "checks run UNISOLATED (sandbox.isolation: plain)", Fix: "install bubblewrap and set sandbox.isolation: auto"}
	}
	out = append(out, mode)
	dir, err := os.MkdirTemp("", "patchgit-doctor-")
	if err != nil {
		return append(out, Finding{Name: "test check", Detail: err.Error(), Fix: "make $TMPDIR writable"})
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		return append(out, Finding{Name: "test check", Detail: err.Error()})
	}
	res, err := r.Run(ctx, Job{Name: "doctor", Command: "echo sandbox-ok", Dir: dir, Env: []string{"PATH=" + checkPATH}, Timeout: 30 * time.Second})
	switch {
	case err != nil:
		out = append(out, Finding{Name: "test check", Detail: err.Error(), Fix: "see the findings above"})
	case !res.Passed || res.Output != "sandbox-ok\n":
		out = append(out, Finding{Name: "test check", Detail: fmt.Sprintf("`echo sandbox-ok` failed (exit %d): %s", res.ExitCode, res.Output), Fix: "see the findings above"})
	default:
		out = append(out, Finding{Name: "test check", OK: true, Detail: fmt.Sprintf("`echo sandbox-ok` ran in mode %s in %s", res.Mode, res.Duration.Round(time.Millisecond))})
	}
	return out
}
