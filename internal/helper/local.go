package helper

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/budget"
)

// Local is the embedded default: the "helper" is a work directory on this
// machine, metered at a configured rate. Nothing is created or destroyed
// but that directory.
type Local struct {
	Dir         string        // parent of the helpers' work directories
	PriceHourly budget.Micros // the configured rate per hour (0 = free)
}

func (l *Local) Name() string { return "local" }

// Sizes is one size: this machine.
func (l *Local) Sizes(context.Context) ([]Size, error) {
	return []Size{{Slug: "local", MemoryMB: memTotalMB(), VCPUs: runtime.NumCPU(), PriceHourly: l.PriceHourly}}, nil
}

type localMeta struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

func (l *Local) Create(_ context.Context, req CreateRequest) (Machine, error) {
	if !safeName.MatchString(req.Name) {
		return Machine{}, fmt.Errorf("create local helper %q: %w", req.Name, ErrBadConfig)
	}
	dir := filepath.Join(l.Dir, req.Name)
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o700); err != nil {
		return Machine{}, fmt.Errorf("create local helper: %w", err)
	}
	raw, _ := json.Marshal(localMeta{Name: req.Name, Tags: req.Tags})
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), raw, 0o600); err != nil {
		return Machine{}, fmt.Errorf("create local helper: %w", err)
	}
	return l.machine(req.Name, req.Tags), nil
}

func (l *Local) machine(name string, tags []string) Machine {
	return Machine{ID: name, Name: name, Status: "active", Address: "local", Tags: tags}
}

func (l *Local) Get(_ context.Context, id string) (Machine, error) {
	raw, err := os.ReadFile(filepath.Join(l.Dir, id, "meta.json"))
	if errors.Is(err, os.ErrNotExist) || !safeName.MatchString(id) {
		return Machine{}, fmt.Errorf("get local helper %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Machine{}, fmt.Errorf("get local helper %s: %w", id, err)
	}
	var m localMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return Machine{}, fmt.Errorf("get local helper %s: %w", id, err)
	}
	return l.machine(m.Name, m.Tags), nil
}

func (l *Local) ListByTag(ctx context.Context, tag string) ([]Machine, error) {
	entries, err := os.ReadDir(l.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list local helpers: %w", err)
	}
	var out []Machine
	for _, e := range entries {
		if m, err := l.Get(ctx, e.Name()); err == nil && slices.Contains(m.Tags, tag) {
			out = append(out, m)
		}
	}
	return out, nil
}

func (l *Local) Destroy(ctx context.Context, id string) error {
	if _, err := l.Get(ctx, id); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(l.Dir, id)); err != nil {
		return fmt.Errorf("destroy local helper %s: %w", id, err)
	}
	return nil
}

func (l *Local) Connect(_ context.Context, m Machine, _ ssh.PublicKey) (Conn, error) {
	return &localConn{dir: filepath.Join(l.Dir, m.ID, "work")}, nil
}

type localConn struct{ dir string }

func (c *localConn) Upload(_ context.Context, r io.Reader, name string, mode uint32) error {
	if !safeName.MatchString(name) {
		return fmt.Errorf("upload %q: %w: use letters, digits, '.', '_' or '-'", name, ErrBadConfig)
	}
	f, err := os.CreateTemp(c.dir, "."+name+".part*")
	if err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("upload %s: %w", name, err)
	}
	if err := f.Chmod(os.FileMode(mode & 0o777)); err != nil {
		f.Close()
		return fmt.Errorf("upload %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), filepath.Join(c.dir, name)); err != nil {
		return fmt.Errorf("upload %s: %w", name, err)
	}
	return nil
}

func (c *localConn) Run(ctx context.Context, command string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + c.dir, "LANG=C.UTF-8"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var tail bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, io.MultiWriter(stderr, &tailWriter{buf: &tail, max: 2048})
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("run on local helper: %w: %s", err, bytes.TrimSpace(tail.Bytes()))
	}
	return nil
}

func (c *localConn) Close() error { return nil }

// memTotalMB reads MemTotal from /proc/meminfo; 0 if unknown.
func memTotalMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kb / 1024
		}
	}
	return 0
}
