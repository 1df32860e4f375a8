package tui

import (
	"testing"

	tea "charm.land/bubbletea/v2"
)

// ctrl+o shows a one-time web sign-in link minted for the person in the app.
func TestWebLinkKeyShowsLink(t *testing.T) {
	svc := newFakeService("demo")
	tm := startApp(t, svc, Options{}, 120, 30)
	waitScreen(t, tm, "No messages yet")
	tm.Send(tea.KeyPressMsg{Code: 'o', Mod: tea.ModCtrl})
	waitScreen(t, tm, "http://127.0.0.1:8080/login?link=for-ada")
	finalScreen(t, tm)
}
