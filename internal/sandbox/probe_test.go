package sandbox

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// probeSource is a small program the isolation tests run inside and
// outside the sandbox: each probe prints OK or FAIL and why.
const probeSource = `package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

func main() {
	switch os.Args[1] {
	case "tcp":
		c, err := net.DialTimeout("tcp", os.Args[2], 2*time.Second)
		if err != nil {
			fmt.Println("FAIL", err)
			return
		}
		c.Close()
		fmt.Println("OK connected")
	case "dns":
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", os.Args[2])
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, os.Args[3])
		if err != nil {
			fmt.Println("FAIL", err)
			return
		}
		fmt.Println("OK", addrs)
	case "write":
		if err := os.WriteFile(os.Args[2], []byte("escaped\n"), 0o644); err != nil {
			fmt.Println("FAIL", err)
			return
		}
		fmt.Println("OK wrote", os.Args[2])
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
	case "mem":
		mb, _ := strconv.Atoi(os.Args[2])
		var keep [][]byte
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(i + j)
			}
			keep = append(keep, b)
		}
		fmt.Println("OK allocated", len(keep), "MiB")
	}
}
`

var (
	probeOnce sync.Once
	probeDir  string
	probeErr  error
)

// probeBinary builds the probe once into a directory every uid can read
// (it is bound read-only into the sandbox as a tool dir).
func probeBinary(t *testing.T) string {
	t.Helper()
	probeOnce.Do(func() {
		probeDir, probeErr = os.MkdirTemp("", "patchgit-probe-")
		if probeErr != nil {
			return
		}
		src := filepath.Join(probeDir, "main.go")
		if probeErr = os.WriteFile(src, []byte(probeSource), 0o644); probeErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(probeDir, "probe"), src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			probeErr = fmt.Errorf("build probe: %v: %s", err, out)
			return
		}
		probeErr = os.Chmod(probeDir, 0o755)
	})
	if probeErr != nil {
		t.Fatal(probeErr)
	}
	return filepath.Join(probeDir, "probe")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if probeDir != "" {
		os.RemoveAll(probeDir)
	}
	os.Exit(code)
}

// isolatedModes are the modes this machine can run; CI installs bwrap, so
// under CI=true its absence is a failure.
func isolatedModes(t *testing.T) []string {
	var modes []string
	if _, err := bwrapUsable(); err == nil {
		modes = append(modes, ModeBwrap)
	} else if os.Getenv("CI") == "true" {
		t.Errorf("bubblewrap is not usable under CI: %v", err)
	}
	if err := namespacesUsable(); err == nil {
		modes = append(modes, ModeNamespaces)
	}
	if len(modes) == 0 {
		t.Skip("no isolation available on this machine")
	}
	return modes
}

// openMode reopens the fixture's sandbox with an isolation mode and limits.
func (f fixture) openMode(t *testing.T, mode string, res Resources) fixture {
	t.Helper()
	sb, err := Open(f.root, f.g, Options{Isolation: mode, Resources: res, ToolDirs: []string{filepath.Dir(probeBinary(t))}})
	if err != nil {
		t.Fatal(err)
	}
	f.sb = sb
	return f
}

// runOutside runs the probe on the host, as the test process, where every
// probe is harmless: it proves the probe can succeed.
func runOutside(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(probeBinary(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("probe %v outside: %v: %s", args, err, out)
	}
	return string(out)
}

// runInside runs one check (the probe) through Verify and returns its output.
func (f fixture) runInside(t *testing.T, command string) CheckResult {
	t.Helper()
	res := f.verify(t, Request{Diff: []byte(greetDiff), Checks: []string{command}, CheckTimeout: 30 * time.Second})
	if len(res.Checks) != 1 {
		t.Fatalf("no check ran: %+v", res)
	}
	return res.Checks[0]
}

// startDNS answers every A query with 192.0.2.7 on a loopback UDP port.
func startDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			q := buf[:n]
			end := 12 // the question: labels up to a zero byte, then type and class
			for end < n && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > n {
				continue
			}
			question := q[12:end]
			isA := binary.BigEndian.Uint16(q[end-4:end-2]) == 1
			// Header: same ID, QR=1 RD RA, 1 question, 1 answer (A) or none;
			// then the question and an answer pointing at its name.
			resp := append([]byte{}, q[:2]...)
			if isA {
				resp = append(resp, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0)
				resp = append(resp, question...)
				resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7)
			} else {
				resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0)
				resp = append(resp, question...)
			}
			_, _ = pc.WriteTo(resp, addr)
		}
	}()
	return pc.LocalAddr().String()
}

func TestIsolationProbes(t *testing.T) {
	probe := probeBinary(t)
	ln := acceptingListener(t)
	dns := startDNS(t)
	t.Setenv("PATCHGIT_TEST_TOKEN", "ghp_isolationprobesecret")
	// Root-owned and 0755 on the host: outside, we (root) may write it;
	// the check's uid may not, and under bwrap it is not even mounted.
	outsideDir := t.TempDir()
	if err := os.Chmod(outsideDir, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(outsideDir, "escaped.txt")

	// Outside: every probe works, so a FAIL inside means the sandbox.
	if out := runOutside(t, "tcp", ln.Addr().String()); !strings.HasPrefix(out, "OK") {
		t.Fatalf("tcp probe outside: %s", out)
	}
	if out := runOutside(t, "dns", dns, "example.test"); !strings.Contains(out, "192.0.2.7") {
		t.Fatalf("dns probe outside: %s", out)
	}
	if out := runOutside(t, "env"); !strings.Contains(out, "ghp_isolationprobesecret") {
		t.Fatalf("env probe outside does not see the secret: %s", out)
	}
	if out := runOutside(t, "write", target); !strings.HasPrefix(out, "OK") {
		t.Fatalf("write probe outside: %s", out)
	}
	if err := os.Remove(target); err != nil {
		t.Fatal(err)
	}

	for _, mode := range isolatedModes(t) {
		t.Run(mode, func(t *testing.T) {
			f := newGreetFixture(t).openMode(t, mode, Resources{})
			for _, tc := range []struct{ name, command, mustNot string }{
				{"tcp to the host's loopback", probe + " tcp " + ln.Addr().String(), "OK"},
				{"dns via a local resolver", probe + " dns " + dns + " example.test", "OK"},
				{"env", probe + " env", "ghp_isolationprobesecret"},
				{"write outside the work dir", probe + " write " + target, "OK"},
				{"write into /usr", probe + " write /usr/escaped.txt", "OK"},
			} {
				c := f.runInside(t, tc.command)
				if c.Mode != mode {
					t.Errorf("%s: ran in mode %q", tc.name, c.Mode)
				}
				if strings.Contains(c.Output, tc.mustNot) || (tc.name != "env" && !strings.Contains(c.Output, "FAIL")) {
					t.Errorf("%s: not confined: %s", tc.name, c.Output)
				}
				if tc.name == "env" && !strings.Contains(c.Output, "GOPROXY=off") {
					t.Errorf("env probe did not run: %s", c.Output)
				}
			}
			if _, err := os.Stat(target); err == nil {
				t.Errorf("a check wrote %s outside the work dir", target)
			}
			// A sanity check that it is our probe failing, not the sandbox:
			// writing inside the work dir works.
			if c := f.runInside(t, probe+" write inside.txt"); !strings.HasPrefix(c.Output, "OK") {
				t.Errorf("cannot write inside the work dir: %s", c.Output)
			}
		})
	}
}

// The resource probes run only inside, against limits set low. Each must
// be stopped within its limit plus a few seconds (a stop for a runaway,
// not a speed assertion), and the machine must still start processes.
func TestResourceProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a fork bomb, a memory hog and CPU burners for a few seconds each")
	}
	probe := probeBinary(t)
	low := Resources{Processes: 64, MemoryBytes: 256 << 20, CPUSeconds: 2, FileBytes: 32 << 20, TmpBytes: 16 << 20}
	for _, mode := range isolatedModes(t) {
		t.Run(mode, func(t *testing.T) {
			f := newGreetFixture(t).openMode(t, mode, low)
			if _, err := newCgroup(low); err != nil && os.Geteuid() == 0 {
				t.Logf("no cgroups here (%v): processes limited by RLIMIT_NPROC, memory unlimited", err)
			}
			for _, tc := range []struct {
				name, command string
				timeout       time.Duration
				within        time.Duration
				check         func(CheckResult) string
			}{
				{"fork bomb", `bomb() { bomb | bomb & }; bomb; sleep 30`, 5 * time.Second, 5*time.Second + 5*time.Second,
					func(c CheckResult) string { return "" }},
				// Two CPU seconds take far longer in wall time on a loaded
				// machine; what proves the CPU limit is that the (long)
				// timeout did not fire and a signal ended it.
				{"endless loop", `while :; do :; done`, 2 * time.Minute, time.Minute,
					func(c CheckResult) string {
						if c.TimedOut || c.ExitCode >= 0 && c.ExitCode < 128 {
							return "not stopped by the CPU limit's signal"
						}
						return ""
					}},
				{"one big file", `head -c 100000000 /dev/zero > big.bin && echo wrote $(wc -c < big.bin)`, 60 * time.Second, 10 * time.Second,
					func(c CheckResult) string {
						if strings.Contains(c.Output, "wrote 100000000") {
							return "wrote past the file size cap"
						}
						return ""
					}},
				{"many small files in /tmp", `d=$(mktemp -d); i=0; while [ $i -lt 5000 ]; do head -c 8192 /dev/zero > $d/f$i || exit 1; i=$((i+1)); done; echo wrote all`, 60 * time.Second, 30 * time.Second,
					func(c CheckResult) string {
						if strings.Contains(c.Output, "wrote all") && mode == ModeBwrap {
							return "wrote 40 MB into a 16 MB /tmp"
						}
						return ""
					}},
				{"memory hog", probe + " mem 1024", 60 * time.Second, 20 * time.Second,
					func(c CheckResult) string {
						if strings.Contains(c.Output, "OK allocated") {
							return "allocated 1 GiB under a 256 MiB limit"
						}
						return ""
					}},
			} {
				if tc.name == "many small files in /tmp" && mode != ModeBwrap {
					continue // only bwrap has a private, size-capped /tmp
				}
				if tc.name == "memory hog" && !cgroupsHere() {
					continue
				}
				res := f.verify(t, Request{Diff: []byte(greetDiff), Checks: []string{tc.command}, CheckTimeout: tc.timeout})
				c := res.Checks[0]
				if c.Passed {
					t.Errorf("%s: passed: %s", tc.name, c.Output)
				}
				if c.Duration > tc.within {
					t.Errorf("%s: took %s, want it stopped within %s", tc.name, c.Duration, tc.within)
				}
				if why := tc.check(c); why != "" {
					t.Errorf("%s: %s (%+v)", tc.name, why, c)
				}
				if tc.name == "memory hog" && !c.OutOfMemory {
					t.Errorf("memory hog: not reported as out of memory: %+v", c)
				}
				// The machine is unharmed: it still starts processes.
				if out, err := exec.Command("/bin/echo", "alive").Output(); err != nil || string(out) != "alive\n" {
					t.Fatalf("%s: the host cannot start a process after it: %v", tc.name, err)
				}
			}
		})
	}
}

func cgroupsHere() bool {
	c, err := newCgroup(DefaultResources())
	c.remove()
	return err == nil && c.memory != ""
}

// TestRunnerInterface drives a Runner directly, as the helper VM will.
func TestRunnerInterface(t *testing.T) {
	modes := isolatedModes(t)
	// A dir every uid can reach, as the namespaces mode needs.
	work, err := os.MkdirTemp("", "patchgit-runner-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	for _, mode := range append(modes, ModePlain) {
		r, err := NewRunner(Options{Isolation: mode})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.Run(context.Background(), Job{Name: "hello", Command: "echo hello; id -u", Dir: work, Env: []string{"PATH=" + checkPATH}, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Passed || !strings.HasPrefix(res.Output, "hello\n") || res.Mode != mode || res.Name != "hello" {
			t.Errorf("%s: %+v", mode, res)
		}
		if os.Geteuid() == 0 && strings.TrimSpace(strings.TrimPrefix(res.Output, "hello\n")) == "0" {
			t.Errorf("%s: the check ran as host uid 0", mode)
		}
	}
	if _, err := NewRunner(Options{Isolation: "chroot"}); err == nil {
		t.Error("an unknown mode was accepted")
	}
}

// TestPrepareHasNetworkChecksDoNot: the prepare phase reaches the network
// and writes the module cache; the checks then read that cache but cannot
// write it, and have no network.
func TestPrepareHasNetworkChecksDoNot(t *testing.T) {
	probe := probeBinary(t)
	ln := acceptingListener(t)
	for _, mode := range isolatedModes(t) {
		if mode != ModeBwrap {
			continue // the namespaces mode shows the host filesystem: the cache is not read-only there
		}
		f := newGreetFixture(t).openMode(t, mode, Resources{})
		res := f.verify(t, Request{Diff: []byte(greetDiff),
			Prepare: []string{probe + " tcp " + ln.Addr().String() + " && echo prepared > $GOMODCACHE/marker"},
			Checks: []string{
				"cat $GOMODCACHE/marker",
				"if touch $GOMODCACHE/x 2>/dev/null; then echo cache-writable; exit 1; fi",
				probe + " tcp " + ln.Addr().String(),
			}})
		if len(res.Prepare) != 1 || !strings.HasPrefix(res.Prepare[0].Output, "OK connected") {
			t.Fatalf("prepare had no network: %+v", res.Prepare)
		}
		if len(res.Checks) != 3 || res.Checks[0].Output != "prepared\n" || !res.Checks[1].Passed || !strings.HasPrefix(res.Checks[2].Output, "FAIL") {
			t.Errorf("checks: %+v", res.Checks)
		}
	}
}

// acceptingListener is a loopback TCP server that accepts and closes every
// connection: what a probe must not reach from inside the sandbox.
func acceptingListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}
