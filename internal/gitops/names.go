package gitops

import (
	"fmt"
	"strings"
)

// maxBranchBytes keeps names well inside every forge's and filesystem's
// limits (git itself has none).
const maxBranchBytes = 200

// ValidBranchName applies `git check-ref-format --branch` rules to name
// (as refs/heads/<name>), plus a length cap.
func ValidBranchName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrBadBranchName, name, why)
	}
	switch {
	case name == "":
		return bad("it is empty")
	case len(name) > maxBranchBytes:
		return bad(fmt.Sprintf("longer than %d bytes", maxBranchBytes))
	case name == "@":
		return bad(`"@" alone is not allowed`)
	case name == "HEAD":
		return bad(`"HEAD" is not allowed`)
	case strings.HasPrefix(name, "-"):
		return bad("it starts with '-'")
	case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
		return bad("it starts or ends with '/'")
	case strings.HasSuffix(name, "."):
		return bad("it ends with '.'")
	case strings.Contains(name, ".."):
		return bad(`it contains ".."`)
	case strings.Contains(name, "//"):
		return bad(`it contains "//"`)
	case strings.Contains(name, "@{"):
		return bad(`it contains "@{"`)
	}
	for _, c := range []byte(name) {
		if c < 0x20 || c == 0x7f {
			return bad("it contains a control character")
		}
		if strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return bad(fmt.Sprintf("it contains %q", c))
		}
	}
	for comp := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(comp, ".") {
			return bad("a component starts with '.'")
		}
		if strings.HasSuffix(comp, ".lock") {
			return bad(`a component ends with ".lock"`)
		}
	}
	return nil
}

// maxSlug is the longest slug BranchName puts after the short id.
const maxSlug = 40

// BranchName is "patchgit/<shortID>-<slug>": the slug is title in
// lowercase [a-z0-9-], at most 40 bytes. The result always passes
// ValidBranchName; an empty slug gives "patchgit/<shortID>".
func BranchName(shortID, title string) string {
	id := slug(shortID, 32)
	if id == "" {
		id = "x"
	}
	s := slug(title, maxSlug)
	if s == "" {
		return "patchgit/" + id
	}
	return "patchgit/" + id + "-" + s
}

// slug keeps [a-z0-9], lowercases A-Z, turns every other run into one '-',
// and trims '-' from both ends, cutting at max bytes.
func slug(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		} else {
			dash = true
		}
		if b.Len() >= max {
			break
		}
	}
	out := b.String()
	if len(out) > max {
		out = out[:max]
	}
	return strings.Trim(out, "-")
}
