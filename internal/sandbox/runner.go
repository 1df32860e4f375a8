package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Isolation modes, strongest first. The active one is shown in every
// CheckResult and by `patchgit doctor`.
const (
	// ModeBwrap runs checks under bubblewrap: own user, mount, network,
	// PID, IPC and UTS namespaces; a read-only view of the system
	// directories the toolchain needs; only the work dir and caches
	// writable; a private size-capped /tmp; loopback-only network.
	ModeBwrap = "bwrap"
	// ModeNamespaces is the built-in fallback through SysProcAttr: own
	// user, mount, network, PID, IPC and UTS namespaces, but the host's
	// filesystem (read-only only where file permissions say so), the
	// host's /tmp, and a network namespace whose loopback is down.
	ModeNamespaces = "namespaces"
	// ModePlain runs checks as ordinary child processes with a scrubbed
	// environment, limits and a timeout. It needs an explicit operator
	// setting (sandbox.isolation: plain).
	ModePlain = "plain"
	// ModeAuto picks bwrap, else namespaces; never plain.
	ModeAuto = "auto"
)

// Runner runs one command confined to a work dir. The local runners are
// bwrap, namespaces and plain; the helper issue runs the same Job on a
// helper VM behind this interface.
type Runner interface {
	Mode() string
	Run(ctx context.Context, job Job) (CheckResult, error)
}

// Job is one command to run in the sandbox.
type Job struct {
	Name, Command string
	Dir           string   // the work tree: the cwd, writable
	Writable      []string // other writable dirs (HOME, GOCACHE)
	ReadOnly      []string // extra read-only dirs (the mirror's objects, the module cache)
	Env           []string // the whole environment
	Timeout       time.Duration
	Network       bool // the prepare phase only: the host's network, still no credential
	Limits        Resources
}

// Resources bound one Job. Zero fields take DefaultResources.
type Resources struct {
	Processes   int   // pids cgroup (RLIMIT_NPROC when there is no cgroup)
	MemoryBytes int64 // memory cgroup; skipped when there is none
	CPUSeconds  int   // RLIMIT_CPU per process; 0: the timeout's seconds times 2
	FileBytes   int64 // RLIMIT_FSIZE: the largest file a check may write
	TmpBytes    int64 // size of the private /tmp (bwrap)
	WorkBytes   int64 // what a check may write into a layered work tree
}

// DefaultResources fit a real Go or Node test suite on a small server.
func DefaultResources() Resources {
	return Resources{Processes: 512, MemoryBytes: 2 << 30, FileBytes: 1 << 30, TmpBytes: 1 << 30, WorkBytes: 2 << 30}
}

func (r Resources) withDefaults(timeout time.Duration) Resources {
	d := DefaultResources()
	if r.Processes <= 0 {
		r.Processes = d.Processes
	}
	if r.MemoryBytes <= 0 {
		r.MemoryBytes = d.MemoryBytes
	}
	if r.FileBytes <= 0 {
		r.FileBytes = d.FileBytes
	}
	if r.TmpBytes <= 0 {
		r.TmpBytes = d.TmpBytes
	}
	if r.WorkBytes <= 0 {
		r.WorkBytes = d.WorkBytes
	}
	if r.CPUSeconds <= 0 {
		r.CPUSeconds = max(1, int(2*timeout.Seconds()))
	}
	return r
}

// Options configure how a Sandbox isolates checks.
type Options struct {
	Isolation string // ModeAuto (default), ModeBwrap, ModeNamespaces or ModePlain
	// UID and GID are the unprivileged host ids checks run as when
	// PatchGit runs as root (the kernel does not enforce RLIMIT_NPROC for
	// uid 0, and uid 0 must never own a check). Default 65534 (nobody).
	UID, GID  int
	Resources Resources
	// ToolDirs are extra read-only directories the checks need (a
	// toolchain outside /usr); their bin dirs are not added to PATH.
	ToolDirs []string
	// Runner, when set, replaces the local runner (the helper VM).
	Runner Runner
	// NoLayers turns off layered work dirs (a cached pristine tree under
	// an overlay): every Verify then checks the base out in full.
	NoLayers bool
}

const nobody = 65534

// cred is who a check runs as: nil means "as we are" (not root).
func (o Options) cred() *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid := o.UID, o.GID
	if uid <= 0 {
		uid = nobody
	}
	if gid <= 0 {
		gid = nobody
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
}

// NewRunner returns the local runner for opts.Isolation, or an error that
// says what is missing and how to fix it.
func NewRunner(opts Options) (Runner, error) {
	base := localRunner{cred: opts.cred(), res: opts.Resources, toolDirs: opts.ToolDirs}
	switch opts.Isolation {
	case "", ModeAuto:
		if path, err := bwrapUsable(); err == nil {
			return &bwrapRunner{localRunner: base, bwrap: path}, nil
		}
		if err := namespacesUsable(); err == nil {
			return &nsRunner{localRunner: base}, nil
		}
		return nil, fmt.Errorf("choose isolation: %w: neither bubblewrap nor user namespaces work here: install bubblewrap (apt-get install bubblewrap), or set sandbox.isolation: plain to run checks unisolated", ErrNoIsolation)
	case ModeBwrap:
		path, err := bwrapUsable()
		if err != nil {
			return nil, fmt.Errorf("choose isolation: %w", err)
		}
		return &bwrapRunner{localRunner: base, bwrap: path}, nil
	case ModeNamespaces:
		if err := namespacesUsable(); err != nil {
			return nil, fmt.Errorf("choose isolation: %w", err)
		}
		return &nsRunner{localRunner: base}, nil
	case ModePlain:
		return &plainRunner{localRunner: base}, nil
	}
	return nil, fmt.Errorf("choose isolation: %w: %q; use auto, bwrap, namespaces or plain", ErrBadIsolation, opts.Isolation)
}

// localRunner holds what every local mode shares: who runs the check,
// the limits, and how a started command is gated, limited and killed.
type localRunner struct {
	cred     *syscall.Credential
	res      Resources
	toolDirs []string
}

// gateScript holds the command until PatchGit has put it into its
// cgroups (read on fd 3), then execs it under prlimit: everything it
// starts inherits both, with no window to escape them. (prlimit(2) on the
// child from here would need CAP_SYS_RESOURCE, which containers drop.)
// If PatchGit dies before opening the gate, the read sees EOF and the
// command never runs unconfined.
const gateScript = `read -r _ <&3 || exit 125; exec 3<&-; exec "$@"`

// prlimitPath is util-linux's prlimit, which sets the rlimits on itself
// and execs the command.
const prlimitPath = "/usr/bin/prlimit"

// rlimitArgs: the soft CPU limit sends SIGXCPU, the hard one a second
// later SIGKILL. RLIMIT_NPROC counts every process of the uid, so it is
// set only when there is no pids cgroup.
func rlimitArgs(lim Resources, noCgroup bool) []string {
	a := []string{prlimitPath,
		fmt.Sprintf("--cpu=%d:%d", lim.CPUSeconds, lim.CPUSeconds+1),
		fmt.Sprintf("--fsize=%d", lim.FileBytes),
		"--core=0"}
	if noCgroup {
		a = append(a, fmt.Sprintf("--nproc=%d", lim.Processes))
	}
	return append(a, "--")
}

// run starts argv gated, applies cgroups and rlimits, waits with the
// timeout, and kills whatever is left.
func (l localRunner) run(ctx context.Context, job Job, mode string, argv []string, attr *syscall.SysProcAttr) (CheckResult, error) {
	res := CheckResult{Name: job.Name, Command: job.Command, ExitCode: -1, Mode: mode}
	lim := job.Limits
	if lim == (Resources{}) {
		lim = l.res
	}
	lim = lim.withDefaults(job.Timeout)
	gateR, gateW, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("start check %q: %w", job.Command, err)
	}
	defer gateR.Close()
	defer gateW.Close()

	cg, cgErr := newCgroup(lim)
	if cgErr != nil && !errors.Is(cgErr, errNoCgroup) {
		return res, fmt.Errorf("start check %q: %w", job.Command, cgErr)
	}
	defer cg.remove()

	cctx, cancel := context.WithTimeout(ctx, job.Timeout)
	defer cancel()
	out := newCappedOutput(outputLimit)
	gated := append([]string{"-c", gateScript, "patchgit-gate"}, rlimitArgs(lim, cg == nil)...)
	cmd := exec.Command("/bin/sh", append(gated, argv...)...)
	cmd.Dir = job.Dir // bwrap: it chdirs again inside
	cmd.Env = job.Env
	cmd.Stdin = nil
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.ExtraFiles = []*os.File{gateR}
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Setpgid = true
	cmd.SysProcAttr = attr
	cmd.WaitDelay = 2 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start check %q: %w", job.Command, err)
	}
	pid := cmd.Process.Pid
	killAll := func() {
		_ = unix.Kill(-pid, unix.SIGKILL)
		cg.killAll()
	}
	if err := cg.add(pid); err != nil {
		killAll()
		_ = cmd.Wait()
		return res, fmt.Errorf("start check %q: %w", job.Command, err)
	}
	if _, err := gateW.Write([]byte("go\n")); err != nil {
		killAll()
		_ = cmd.Wait()
		return res, fmt.Errorf("start check %q: %w", job.Command, err)
	}
	gateW.Close()
	gateR.Close()

	exited := make(chan struct{})
	go func() {
		// Wait for the child to exit without reaping it: while it is a
		// zombie its pid cannot be reused, so killing its group hits only
		// our processes.
		waitExitNoReap(pid)
		close(exited)
	}()
	select {
	case <-exited:
	case <-cctx.Done():
	}
	killAll() // the timeout, or whatever the command left behind
	<-exited
	waitErr := cmd.Wait()
	res.Duration = time.Since(start)
	res.Output = out.String()
	if ctx.Err() != nil {
		return res, fmt.Errorf("run check %q: %w", job.Command, ctx.Err())
	}
	res.TimedOut = errors.Is(cctx.Err(), context.DeadlineExceeded)
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	res.OutOfMemory = cg.oomKilled()
	var exitErr *exec.ExitError
	if waitErr != nil && !res.TimedOut && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return res, fmt.Errorf("wait for check %q: %w", job.Command, waitErr)
	}
	res.Passed = res.ExitCode == 0 && !res.TimedOut
	return res, nil
}

// waitExitNoReap blocks until pid has exited, leaving it unreaped.
func waitExitNoReap(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// dropArgs switch to the check uid with no capability and no way to
// regain one (when we are root; otherwise the check already runs as us).
func (l localRunner) dropArgs() []string {
	if l.cred == nil {
		return nil
	}
	return []string{setprivPath, fmt.Sprintf("--reuid=%d", l.cred.Uid), fmt.Sprintf("--regid=%d", l.cred.Gid),
		"--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"}
}

// setprivPath is util-linux's setpriv.
const setprivPath = "/usr/bin/setpriv"

// plainRunner: no namespaces. Still a scrubbed environment, the
// unprivileged uid, cgroups, rlimits and the timeout.
type plainRunner struct{ localRunner }

func (p *plainRunner) Mode() string { return ModePlain }

func (p *plainRunner) Run(ctx context.Context, job Job) (CheckResult, error) {
	argv := append(p.dropArgs(), "/bin/sh", "-c", job.Command)
	return p.run(ctx, job, ModePlain, argv, nil)
}

// nsRunner is the built-in fallback: namespaces through SysProcAttr. As
// root it needs no user namespace (setpriv drops to the check uid inside);
// otherwise a user namespace maps our own uid only.
type nsRunner struct{ localRunner }

func (n *nsRunner) Mode() string { return ModeNamespaces }

func (n *nsRunner) Run(ctx context.Context, job Job) (CheckResult, error) {
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS)
	if !job.Network {
		flags |= unix.CLONE_NEWNET
	}
	attr := &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL}
	if n.cred == nil {
		uid, gid := os.Geteuid(), os.Getegid()
		flags |= unix.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	}
	attr.Cloneflags = flags
	argv := append(n.dropArgs(), "/bin/sh", "-c", job.Command)
	return n.run(ctx, job, ModeNamespaces, argv, attr)
}

// namespacesUsable starts `true` in fresh namespaces to see whether the
// kernel allows it here.
func namespacesUsable() error {
	cmd := exec.Command("/bin/true")
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags}
	if os.Geteuid() != 0 {
		uid, gid := os.Geteuid(), os.Getegid()
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: namespaces are not available (%v): allow user namespaces (sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0)", ErrNoIsolation, err)
	}
	return nil
}
