package audit

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The head file holds "seq hash\n" for the last committed entry. It lives
// outside the database, so truncating the database's audit bucket cannot
// also roll it back.

// writeHeadFile replaces path atomically: a temp file in the same directory,
// fsynced, renamed over the old one, then the directory fsynced.
func writeHeadFile(path string, seq uint64, hash string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write audit head file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write audit head file: %w", err)
	}
	if _, err := fmt.Fprintf(tmp, "%d %s\n", seq, hash); err != nil {
		tmp.Close()
		return fmt.Errorf("write audit head file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write audit head file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write audit head file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write audit head file: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: makes the rename durable on most file systems
		d.Close()
	}
	return nil
}

// readHeadFile parses the head file. A missing file returns an error that
// satisfies errors.Is(err, os.ErrNotExist).
func readHeadFile(path string) (seq uint64, hash string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, "", fmt.Errorf("read audit head file: %w", err)
	}
	text, ok := strings.CutSuffix(string(raw), "\n")
	fields := strings.Split(text, " ")
	if !ok || len(fields) != 2 {
		return 0, "", fmt.Errorf("read audit head file %s: %w: want one line \"<seq> <hash>\"", path, ErrHeadFile)
	}
	seq, err = strconv.ParseUint(fields[0], 10, 64)
	if err != nil || seq == 0 {
		return 0, "", fmt.Errorf("read audit head file %s: %w: %q is not a sequence number", path, ErrHeadFile, fields[0])
	}
	if b, err := hex.DecodeString(fields[1]); err != nil || len(b) != 32 {
		return 0, "", fmt.Errorf("read audit head file %s: %w: %q is not a sha256 hex hash", path, ErrHeadFile, fields[1])
	}
	return seq, fields[1], nil
}

// Reseal rewrites the head file from the database's last entry. Use it only
// after Verify has found the chain itself intact (for example when the head
// file was lost with a restored backup): it makes the database the trusted
// reference again.
func (l *Log) Reseal() error {
	// Hold mu across the read so a concurrent commit's head write cannot be
	// overwritten by this older head.
	l.mu.Lock()
	defer l.mu.Unlock()
	seq, hash, err := l.Head()
	if err != nil {
		return fmt.Errorf("reseal audit log: %w", err)
	}
	if seq == 0 {
		if err := os.Remove(l.headPath); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reseal audit log: %w", err)
		}
		l.headWritten = 0
		return nil
	}
	if err := writeHeadFile(l.headPath, seq, hash); err != nil {
		return fmt.Errorf("reseal audit log: %w", err)
	}
	l.headWritten, l.headErr = seq, nil
	return nil
}
