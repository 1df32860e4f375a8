package assist

import "strings"

// blockExample is the search/replace format, as OfflineReply shows it.
const blockExample = `    path/to/file.go
    <<<<<<< SEARCH
    the exact lines to find
    =======
    the lines to put instead
    >>>>>>> REPLACE`

// OfflineReply answers a message that carries no change: what the offline
// assistant can do, the block format, and how to get a model later.
func OfflineReply(text string) string {
	var b strings.Builder
	m := newMessage(Normalize(text))
	if len(m.findFences()) > 0 {
		b.WriteString("The code block in your message is neither a diff nor a search/replace block, so nothing was changed.\n\n")
	}
	b.WriteString(`I am the offline assistant: I cannot write code from a description, but I can turn a change you paste into a Proposed Execution, verified in a sandbox before anything is pushed.

Paste either:
  - a unified diff (the output of git diff), raw or inside a ` + "```diff" + ` fence, or
  - one or more search/replace blocks:

` + blockExample + `

An empty SEARCH part creates a new file; several blocks may follow one another.

Or run a repository-wide operation the operator configured (formatting, go mod tidy): /run lists them.

Model providers are not configured; see docs/configuration.md.
`)
	return b.String()
}
