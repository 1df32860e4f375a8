package tui

import "testing"

// The wrong PINs tried since the previous login show once the app opens.
func TestNoticeShowsAtStart(t *testing.T) {
	notice := "7 wrong PIN(s) since the last login, from [198.51.100.0/24]"
	tm := startApp(t, newFakeService("demo"), Options{Notice: notice}, 140, 30)
	waitScreen(t, tm, "7 wrong PIN(s) since the last login")
}
