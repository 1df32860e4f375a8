package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// operationName is what a repository operation may be called: short,
// typed in the chat after /run.
var operationName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// maxOperationCommand bounds one operation's command.
const maxOperationCommand = 4096

// validateOperations checks repos[].operations: names `[a-z0-9-]+` (at
// most 40, starting with a letter or digit) and a non-empty one-line
// command each. Keys are relative to the repository (operations.NAME).
func validateOperations(ops map[string]string) []*FieldError {
	var errs []*FieldError
	names := make([]string, 0, len(ops))
	for name := range ops {
		names = append(names, name)
	}
	slices.Sort(names) // errors in a stable order
	for _, name := range names {
		command := ops[name]
		key := "operations." + name
		switch {
		case !operationName.MatchString(name):
			errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf("%q is not an operation name: use 1 to 40 lower-case letters, digits or '-', starting with a letter or digit (e.g. fmt, go-mod-tidy)", name)})
		case strings.TrimSpace(command) == "":
			errs = append(errs, &FieldError{Key: key, Msg: "is empty; give the shell command it runs in the repository, e.g. gofmt -w ."})
		case strings.ContainsAny(command, "\n\r\x00"):
			errs = append(errs, &FieldError{Key: key, Msg: "has a line break or NUL; give one line (join commands with &&)"})
		case len(command) > maxOperationCommand:
			errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf("is %d bytes; the limit is %d", len(command), maxOperationCommand)})
		}
	}
	return errs
}
