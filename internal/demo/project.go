package demo

// The demo project: a tiny Go module with no dependencies that passes
// `test -z "$(gofmt -l .)"` and `go test ./...`, so a first patch can be
// verified end to end right after `patchgit serve`.

const goMod = `module example.com/demo

go 1.26
`

const mainGo = `// Command demo prints a greeting.
package main

import (
	"fmt"
	"os"
)

func main() {
	name := ""
	if len(os.Args) > 1 {
		name = os.Args[1]
	}
	fmt.Println(Greet(name))
}
`

const greetGo = `package main

import "strings"

// Greet returns a friendly greeting for name, or for the world when name
// is blank.
func Greet(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "world"
	}
	return "Hello, " + name + "!"
}
`

const greetTestGo = `package main

import "testing"

func TestGreet(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Ada", "Hello, Ada!"},
		{"  Linus ", "Hello, Linus!"},
		{"", "Hello, world!"},
	} {
		if got := Greet(tc.name); got != tc.want {
			t.Errorf("Greet(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
`

const readme = "# demo\n\n" +
	"A tiny Go program that PatchGit seeds as its demo repository.\n\n" +
	"    go run . Ada     # Hello, Ada!\n" +
	"    go test ./...\n\n" +
	"Try a first change: ask PatchGit to make `Greet` say \"Hi\" instead of\n" +
	"\"Hello\" (and update the test), then look at the Proposed Execution.\n"

// projectFiles is the demo tree: path -> content, all regular files.
var projectFiles = map[string]string{
	"README.md":     readme,
	"go.mod":        goMod,
	"greet.go":      greetGo,
	"greet_test.go": greetTestGo,
	"main.go":       mainGo,
}
