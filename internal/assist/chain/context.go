package chain

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/patchgit/patchgit/internal/assist/provider"
)

// Context is what a stage may show a model from the repository, and a
// record of what it left out and why.
type Context struct {
	Tree     []string          // every path not on the deny-list
	Files    map[string]string // contents sent
	Order    []string          // the order Files were chosen in
	Withheld map[string]string // path -> why it was not sent (deny-list, secret inside, binary)
	Omitted  []string          // wanted but over the token budget
}

// Gather picks what to send: the tree (minus denied paths), then the
// contents of wanted files, then files the request names (by path or base
// name), each while the estimated tokens stay within budget.
func Gather(tree []string, read ReadFile, deny *Deny, request string, wanted []string, budget int64) Context {
	c := Context{Files: map[string]string{}, Withheld: map[string]string{}}
	for _, p := range tree {
		if pat, denied := deny.Path(p); denied {
			c.Withheld[p] = "deny-list pattern " + pat
			continue
		}
		c.Tree = append(c.Tree, p)
	}
	var candidates []string
	for _, p := range wanted {
		if !slices.Contains(candidates, p) {
			candidates = append(candidates, p)
		}
	}
	for _, p := range c.Tree {
		if !slices.Contains(candidates, p) && mentions(request, p) {
			candidates = append(candidates, p)
		}
	}
	used := provider.EstimateTokens(strings.Join(c.Tree, "\n"))
	for _, p := range candidates {
		if pat, denied := deny.Path(p); denied {
			c.Withheld[p] = "deny-list pattern " + pat
			continue
		}
		b, err := read(p)
		if err != nil {
			continue // a target that does not exist yet: nothing to show
		}
		if bytes.IndexByte(b, 0) >= 0 {
			c.Withheld[p] = "binary"
			continue
		}
		if what, secret := deny.Content(b); secret {
			c.Withheld[p] = "holds " + what
			continue
		}
		cost := provider.EstimateTokens(p) + provider.EstimateTokens(string(b)) + 8
		if used+cost > budget {
			c.Omitted = append(c.Omitted, p)
			continue
		}
		used += cost
		c.Files[p] = string(b)
		c.Order = append(c.Order, p)
	}
	return c
}

// mentions says whether the request names the file: its path, or its base
// name when that has an extension (so "main" alone does not pull main.go).
func mentions(request, p string) bool {
	if strings.Contains(request, p) {
		return true
	}
	base := path.Base(p)
	return strings.Contains(base, ".") && len(base) > 3 && containsWord(request, base)
}

func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(w)
		if (start == 0 || !isPathChar(s[start-1])) && (end == len(s) || !isPathChar(s[end])) {
			return true
		}
		i = start + 1
	}
}

func isPathChar(b byte) bool {
	return b == '/' || b == '_' || b == '-' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
}

// render writes the tree and the files as the prompt shows them.
func (c Context) render(b *strings.Builder, withTree bool) {
	if withTree {
		b.WriteString("Files in the repository:\n")
		for _, p := range c.Tree {
			b.WriteString(p + "\n")
		}
		b.WriteString("\n")
	}
	for _, p := range c.Order {
		fmt.Fprintf(b, "File %s:\n````\n%s", p, c.Files[p])
		if !strings.HasSuffix(c.Files[p], "\n") {
			b.WriteString("\n")
		}
		b.WriteString("````\n\n")
	}
	if len(c.Omitted) > 0 {
		fmt.Fprintf(b, "Not shown (over the size budget): %s\n\n", strings.Join(c.Omitted, ", "))
	}
}
