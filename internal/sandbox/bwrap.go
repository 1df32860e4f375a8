package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// bwrapRunner runs checks under bubblewrap (Debian's, not setuid).
type bwrapRunner struct {
	localRunner
	bwrap string
}

func (b *bwrapRunner) Mode() string { return ModeBwrap }

// systemDirs are bound read-only: what a toolchain needs, not the whole
// root (no /home, /root, /var, /srv, /opt, /run).
var systemDirs = []string{"/usr"}

// rootLinks are merged-/usr symlinks on Debian, or real dirs elsewhere.
var rootLinks = []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}

// etcFiles: name resolution, users, TLS roots, the dynamic linker and
// Debian's alternatives symlinks. Nothing with a secret.
var etcFiles = []string{
	"/etc/alternatives", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
	"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/hosts", "/etc/host.conf",
	"/etc/localtime", "/etc/ssl", "/etc/ca-certificates", "/etc/mime.types", "/etc/protocols", "/etc/services",
}

func (b *bwrapRunner) Run(ctx context.Context, job Job) (CheckResult, error) {
	lim := job.Limits
	if lim == (Resources{}) {
		lim = b.res
	}
	lim = lim.withDefaults(job.Timeout)
	args, err := b.args(job, lim)
	if err != nil {
		return CheckResult{}, fmt.Errorf("run check %q: %w", job.Command, err)
	}
	return b.run(ctx, job, ModeBwrap, append([]string{b.bwrap}, args...), nil)
}

// args builds bwrap's command line. As root, bwrap needs no user
// namespace: it sets up the mounts with our privileges and setpriv then
// drops to the check uid with no capability. Otherwise bwrap makes an
// unprivileged user namespace that maps only our uid.
func (b *bwrapRunner) args(job Job, lim Resources) ([]string, error) {
	a := []string{"--die-with-parent", "--new-session", "--hostname", "patchgit-sandbox"}
	if b.cred != nil {
		a = append(a, "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try")
		if !job.Network {
			a = append(a, "--unshare-net")
		}
	} else {
		a = append(a, "--unshare-all", "--cap-drop", "ALL")
		if job.Network {
			a = append(a, "--share-net")
		}
	}
	if job.Network {
		a = append(a, "--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf")
	}
	for _, d := range systemDirs {
		a = append(a, "--ro-bind", d, d)
	}
	for _, l := range rootLinks {
		fi, err := os.Lstat(l)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(l)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", l, err)
			}
			a = append(a, "--symlink", target, l)
		case fi.IsDir():
			a = append(a, "--ro-bind", l, l)
		}
	}
	for _, f := range etcFiles {
		a = append(a, "--ro-bind-try", f, f)
	}
	a = append(a, "--proc", "/proc", "--dev", "/dev",
		"--size", strconv.FormatInt(lim.TmpBytes, 10), "--perms", "1777", "--tmpfs", "/tmp")
	// After /tmp: a work dir under /tmp is bound on top of the private one.
	readOnly := append(append([]string{}, b.toolDirs...), job.ReadOnly...)
	for _, d := range readOnly {
		a = append(a, "--ro-bind", d, d)
	}
	for _, d := range append([]string{job.Dir}, job.Writable...) {
		a = append(a, "--bind", d, d)
	}
	// bwrap copies the modes of the sources' parents onto the dirs it
	// creates for the binds (0700 under /root or a test's TempDir): open
	// them up inside, where they are empty mount points on its tmpfs.
	binds := append(append([]string{job.Dir}, job.Writable...), readOnly...)
	for _, p := range mountParents(binds) {
		a = append(a, "--chmod", "0755", p)
	}
	a = append(a, "--chdir", job.Dir, "--")
	a = append(a, b.dropArgs()...)
	return append(a, "/bin/sh", "-c", job.Command), nil
}

// bwrapUsable finds bwrap and runs `true` in it as the check uid.
func bwrapUsable() (string, error) {
	path, err := exec.LookPath("bwrap")
	if err != nil {
		return "", fmt.Errorf("%w: bubblewrap is not installed: apt-get install bubblewrap", ErrNoIsolation)
	}
	cmd := exec.Command(path, "--unshare-all", "--ro-bind", "/", "/", "--", "/bin/true")
	cmd.Dir = "/"
	cmd.Stdout = io.Discard
	out := newCappedOutput(4096)
	cmd.Stderr = out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s cannot create namespaces (%v: %s): allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)", ErrNoIsolation, path, err, out.String())
	}
	return path, nil
}

// mountParents lists, shallowest first, the parents of the bind targets
// that bwrap creates on its own tmpfs: below /tmp or /, and not inside a
// bind or a system dir.
func mountParents(binds []string) []string {
	bound := func(p string) bool {
		for _, b := range append(append([]string{}, binds...), systemDirs...) {
			if p == b || strings.HasPrefix(p, b+"/") {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{"/": true, "/tmp": true}
	var out []string
	for _, b := range binds {
		var chain []string
		for p := filepath.Dir(b); !seen[p] && !bound(p); p = filepath.Dir(p) {
			seen[p] = true
			chain = append(chain, p)
		}
		slices.Reverse(chain)
		out = append(out, chain...)
	}
	return out
}
