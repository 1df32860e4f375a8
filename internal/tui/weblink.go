package tui

import (
	"context"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/patchgit/patchgit/internal/core"
)

// webLinkMsg carries a freshly minted one-time sign-in link for the web
// mirror.
type webLinkMsg struct {
	link core.WebLink
	err  error
}

func (m *model) mintWebLink() tea.Cmd {
	svc, actor := m.svc, m.actor
	return m.call(func(ctx context.Context) tea.Msg {
		l, err := svc.WebLink(ctx, actor)
		return webLinkMsg{link: l, err: err}
	})
}

// onWebLink shows the link on the status line; it is single use and
// short-lived, so showing it is no lasting secret.
func (m *model) onWebLink(msg webLinkMsg) {
	if msg.err != nil {
		m.setError(fmt.Errorf("make a web sign-in link: %w", msg.err))
		return
	}
	left := time.Until(msg.link.Expires).Round(time.Minute)
	m.setInfo(fmt.Sprintf("web (one use, %s): %s", left, msg.link.URL))
}
