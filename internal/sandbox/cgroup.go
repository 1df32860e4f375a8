package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupRoot is where the v1 controllers are mounted (this machine kind
// has pids and memory on cgroup v1).
var cgroupRoot = "/sys/fs/cgroup"

var errNoCgroup = errors.New("no writable cgroup v1 pids controller")

// cgroup is one check's pids and memory cgroups (v1). A nil *cgroup is
// valid and does nothing: PatchGit not running as root, or no v1
// hierarchy; RLIMIT_NPROC stands in for the process limit then.
type cgroup struct {
	pids, memory string
}

// newCgroup makes patchgit/check-<unique> under the pids and memory
// controllers with lim's limits.
func newCgroup(lim Resources) (*cgroup, error) {
	pidsRoot := filepath.Join(cgroupRoot, "pids")
	if os.Geteuid() != 0 || unix.Access(filepath.Join(pidsRoot, "cgroup.procs"), unix.W_OK) != nil {
		return nil, errNoCgroup
	}
	name := fmt.Sprintf("check-%d-%d", os.Getpid(), time.Now().UnixNano())
	c := &cgroup{pids: filepath.Join(pidsRoot, "patchgit", name)}
	if err := os.MkdirAll(c.pids, 0o755); err != nil {
		return nil, fmt.Errorf("create pids cgroup: %w", err)
	}
	if err := writeFile(filepath.Join(c.pids, "pids.max"), strconv.Itoa(lim.Processes)); err != nil {
		c.remove()
		return nil, err
	}
	memRoot := filepath.Join(cgroupRoot, "memory")
	if unix.Access(filepath.Join(memRoot, "cgroup.procs"), unix.W_OK) == nil {
		c.memory = filepath.Join(memRoot, "patchgit", name)
		if err := os.MkdirAll(c.memory, 0o755); err != nil {
			c.remove()
			return nil, fmt.Errorf("create memory cgroup: %w", err)
		}
		limit := strconv.FormatInt(lim.MemoryBytes, 10)
		if err := writeFile(filepath.Join(c.memory, "memory.limit_in_bytes"), limit); err != nil {
			c.remove()
			return nil, err
		}
		// With swap, memory+swap must be capped too; absent without swap accounting.
		_ = writeFile(filepath.Join(c.memory, "memory.memsw.limit_in_bytes"), limit)
	}
	return c, nil
}

func writeFile(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set %s: %w", filepath.Base(path), err)
	}
	return nil
}

// add moves pid into the cgroups.
func (c *cgroup) add(pid int) error {
	if c == nil {
		return nil
	}
	for _, dir := range []string{c.pids, c.memory} {
		if dir == "" {
			continue
		}
		if err := writeFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// killAll SIGKILLs every process in the pids cgroup until it is empty: a
// process that escaped the process group (a new session, a daemon) is
// still in its cgroup. It is only called once the check is over.
func (c *cgroup) killAll() {
	if c == nil {
		return
	}
	// No new process from here on: a fork bomb cannot refill the cgroup
	// while it is being emptied.
	_ = os.WriteFile(filepath.Join(c.pids, "pids.max"), []byte("0"), 0o644)
	for range 100 {
		pids := c.procs()
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *cgroup) procs() []int {
	f, err := os.Open(filepath.Join(c.pids, "cgroup.procs"))
	if err != nil {
		return nil
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, err := strconv.Atoi(strings.TrimSpace(sc.Text())); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// oomKilled reports whether the memory limit was hit.
func (c *cgroup) oomKilled() bool {
	if c == nil || c.memory == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(c.memory, "memory.oom_control"))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if n, ok := strings.CutPrefix(strings.TrimSpace(line), "oom_kill "); ok && n != "0" {
			return true
		}
	}
	return false
}

// remove kills what is left and deletes the cgroups.
func (c *cgroup) remove() {
	if c == nil {
		return
	}
	c.killAll()
	for _, dir := range []string{c.pids, c.memory} {
		if dir == "" {
			continue
		}
		// A killed process leaves its cgroup a moment later, and a memory
		// cgroup that hit its limit can stay busy for seconds: keep trying
		// in the background for two minutes; sweepCgroups takes the rest.
		if !removeSoon(dir, 320*time.Millisecond) {
			go removeSoon(dir, 2*time.Minute)
		}
	}
}

// removeSoon retries rmdir of a cgroup until it works or within passes.
func removeSoon(dir string, within time.Duration) bool {
	for delay, waited := 10*time.Millisecond, time.Duration(0); ; delay = min(2*delay, time.Second) {
		if err := os.Remove(dir); err == nil || os.IsNotExist(err) {
			return true
		}
		if waited >= within {
			return false
		}
		time.Sleep(delay)
		waited += delay
	}
}

// sweepCgroups removes check cgroups left by a PatchGit process that is
// gone (a crash, or a busy memory cgroup at removal time). Names are
// check-<pid>-<nanos>: a live pid's cgroups are left alone.
func sweepCgroups() {
	for _, ctl := range []string{"pids", "memory"} {
		parent := filepath.Join(cgroupRoot, ctl, "patchgit")
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), "check-")
			if !ok || !e.IsDir() {
				continue
			}
			pidText, _, _ := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidText)
			if err != nil || pid <= 0 || pid == os.Getpid() || unix.Kill(pid, 0) == nil {
				continue
			}
			c := &cgroup{pids: filepath.Join(parent, e.Name())}
			c.killAll() // a leftover process of a dead PatchGit
			_ = os.Remove(c.pids)
		}
	}
}
