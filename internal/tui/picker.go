package tui

import (
	"strings"

	"github.com/patchgit/patchgit/internal/core"
)

// picker chooses the repository to talk about.
type picker struct {
	repos  []core.Repo
	cursor int
}

func (p *picker) setRepos(repos []core.Repo, current string) {
	p.repos = repos
	p.cursor = 0
	for i, r := range repos {
		if r.Name == current {
			p.cursor = i
		}
	}
}

func (p *picker) move(d int) {
	if len(p.repos) > 0 {
		p.cursor = (p.cursor + d + len(p.repos)) % len(p.repos)
	}
}

func (p *picker) selected() (core.Repo, bool) {
	if p.cursor < 0 || p.cursor >= len(p.repos) {
		return core.Repo{}, false
	}
	return p.repos[p.cursor], true
}

func (p *picker) view(st *Styles, w, h int) string {
	rows := []string{st.PickerTitle.Render("Choose a repository"), ""}
	if len(p.repos) == 0 {
		rows = append(rows, st.Hint.Render("loading repositories…"))
	}
	// Keep the cursor on screen when the list is longer than the pane.
	first := max(0, p.cursor-(h-4))
	for i := first; i < len(p.repos); i++ {
		r := p.repos[i]
		mark, name := "  ", st.PickerItem.Render(clean(r.Name))
		if i == p.cursor {
			mark, name = st.PickerSelected.Render("> "), st.PickerSelected.Render(clean(r.Name))
		}
		rows = append(rows, mark+name+"  "+st.Label.Render("base "+clean(r.BaseBranch)))
	}
	return fit(strings.Join(rows, "\n"), w, h)
}
