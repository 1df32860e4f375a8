package tui

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	tea "charm.land/bubbletea/v2"
)

// Local configures the actions of the app running in the person's own
// terminal. A zero field turns its key off.
type Local struct {
	// Pager is a shell command line that shows a file given as its last
	// argument: $PAGER, else less.
	Pager string
	// Dir is where w writes the diff on screen.
	Dir string
	// Copy lets c copy the proposal id to the terminal's clipboard (OSC 52).
	Copy bool
}

// localMsg carries the outcome of a local action back into Update.
type localMsg struct {
	pagerFile string // written: now show it in the pager
	saved     string // the diff was written here
	pagerDone bool
	err       error
}

// localKey handles the local actions' keys in the proposal pane; ok false
// means the key is not one of them.
func (m *model) localKey(k tea.KeyPressMsg) (cmd tea.Cmd, ok bool) {
	l := m.local
	if l == nil {
		return nil, false
	}
	switch {
	case pressed(k, m.keys.Pager) && l.Pager != "":
		if rev := m.pane.current(); rev != nil {
			m.setInfo("opening the diff in the pager…")
			return writeTemp(rev.Diff), true
		}
	case pressed(k, m.keys.WriteDiff) && l.Dir != "":
		if rev := m.pane.current(); rev != nil {
			name := fmt.Sprintf("patchgit-%s-r%d.diff", shortID(m.proposal.ID), rev.N)
			return saveDiff(l.Dir, name, rev.Diff), true
		}
	case pressed(k, m.keys.CopyID) && l.Copy:
		if m.proposal != nil {
			m.setInfo(fmt.Sprintf("copied proposal id %s (by OSC 52: your terminal must allow clipboard writes)", m.proposal.ID))
			return tea.SetClipboard(m.proposal.ID), true
		}
	default:
		return nil, false
	}
	m.setProblem("nothing to show yet: this conversation has no diff")
	return nil, true
}

func (m *model) onLocal(msg localMsg) tea.Cmd {
	switch {
	case msg.err != nil:
		m.setError(msg.err)
	case msg.pagerFile != "":
		path := msg.pagerFile
		// sh runs the pager line as the person wrote it ("less -R" works);
		// the file comes as "$1", never spliced into the line.
		c := exec.Command("sh", "-c", m.local.Pager+` "$1"`, "pager", path)
		return tea.ExecProcess(c, func(err error) tea.Msg {
			os.Remove(path)
			if err != nil {
				return localMsg{err: fmt.Errorf("run the pager %q: %w (set $PAGER)", m.local.Pager, err)}
			}
			return localMsg{pagerDone: true}
		})
	case msg.saved != "":
		m.setInfo("diff written to " + msg.saved)
	case msg.pagerDone:
		m.status = status{}
	}
	return nil
}

// writeTemp puts the diff in a private temporary file for the pager.
func writeTemp(diff string) tea.Cmd {
	return func() tea.Msg {
		f, err := os.CreateTemp("", "patchgit-*.diff")
		if err != nil {
			return localMsg{err: fmt.Errorf("write the diff for the pager: %w", err)}
		}
		_, err = f.WriteString(diff)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return localMsg{err: fmt.Errorf("write the diff for the pager: %w", err)}
		}
		return localMsg{pagerFile: f.Name()}
	}
}

// saveDiff writes the diff to dir/name, or name-1, name-2… so an earlier
// file is never overwritten.
func saveDiff(dir, name, diff string) tea.Cmd {
	return func() tea.Msg {
		base, ext := strings.TrimSuffix(name, ".diff"), ".diff"
		for i := 0; i < 1000; i++ {
			path := filepath.Join(dir, name)
			if i > 0 {
				path = filepath.Join(dir, fmt.Sprintf("%s-%d%s", base, i, ext))
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if errors.Is(err, fs.ErrExist) {
				continue
			}
			if err != nil {
				return localMsg{err: fmt.Errorf("write the diff: %w", err)}
			}
			_, err = f.WriteString(diff)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return localMsg{err: fmt.Errorf("write the diff to %s: %w", path, err)}
			}
			return localMsg{saved: path}
		}
		return localMsg{err: fmt.Errorf("write the diff: %s and 999 numbered copies exist in %s: clean up", name, dir)}
	}
}

// syncLocalKeys shows the local keys only where they work.
func (m *model) syncLocalKeys(inPane, hasDiff bool) {
	k, l := &m.keys, m.local
	k.Pager.SetEnabled(l != nil && l.Pager != "" && inPane && hasDiff)
	k.WriteDiff.SetEnabled(l != nil && l.Dir != "" && inPane && hasDiff)
	k.CopyID.SetEnabled(l != nil && l.Copy && inPane && m.proposal != nil)
}
