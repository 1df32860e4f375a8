package chain_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/assist/chain"
	"github.com/patchgit/patchgit/internal/assist/provider"
	"github.com/patchgit/patchgit/internal/assist/providertest"
)

const mainGo = "package main\n\nfunc main() {\n\tprintln(\"hello\")\n}\n"

// repo writes a small repository, secrets included, and returns its tree
// and a reader.
func repo(t *testing.T) ([]string, chain.ReadFile) {
	dir := t.TempDir()
	files := map[string]string{
		"main.go":           mainGo,
		"README.md":         "# demo\n",
		".env":              "DB_PASSWORD=hunter2-in-env\n",
		"deploy/server.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n",
		"config.go":         "package main\n\nconst token = \"ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789\"\n",
	}
	var tree []string
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		tree = append(tree, p)
	}
	return tree, func(p string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, p)) }
}

type server struct {
	srv *providertest.Server
	st  chain.Stage
}

func servers(t *testing.T, replies ...providertest.Reply) []server {
	var out []server
	for _, kind := range []provider.Kind{provider.KindOpenAI, provider.KindAnthropic} {
		var srv *providertest.Server
		if kind == provider.KindOpenAI {
			srv = providertest.NewOpenAI(t, replies...)
		} else {
			srv = providertest.NewAnthropic(t, replies...)
		}
		p, err := provider.New(provider.Options{Name: string(kind), Kind: kind, BaseURL: srv.URL, KeyEnv: "K",
			Getenv: func(string) (string, bool) { return "sk-test-key-0000", true }, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, server{srv, chain.Stage{Provider: p, Model: "m", MaxOutputTokens: 2000, OnDelta: func(string) {}}})
	}
	return out
}

func deny(t *testing.T) *chain.Deny {
	d, err := chain.NewDeny(nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var usage = &providertest.Usage{Input: 500, Output: 60}

func TestPlanThenGoodPatch(t *testing.T) {
	tree, read := repo(t)
	planAnswer := "**PLAN:** Greet the world instead of saying hello.\n\nTARGETS:\n- `main.go`\n\nQUESTIONS:\n- none\n"
	patchAnswer := "Here it is.\n\nmain.go\n<<<<<<< SEARCH\n\tprintln(\"hello\")\n=======\n\tprintln(\"hello, world\")\n>>>>>>> REPLACE\n"
	for _, s := range servers(t, providertest.Reply{Text: planAnswer, Usage: usage}, providertest.Reply{Text: patchAnswer, Usage: usage}) {
		t.Run(string(s.st.Provider.Kind()), func(t *testing.T) {
			req := "Make main.go greet the world; see config.go and .env too"
			plan, err := chain.Plan(context.Background(), s.st, chain.PlanInput{Request: req, Tree: tree, Read: read, Deny: deny(t), ContextTokens: 4000})
			if err != nil {
				t.Fatal(err)
			}
			if plan.Plan != "Greet the world instead of saying hello." || len(plan.Targets) != 1 || plan.Targets[0] != "main.go" || len(plan.Questions) != 0 {
				t.Errorf("plan %+v", plan)
			}
			var applied map[string]string
			res, err := chain.Patch(context.Background(), s.st, chain.PatchInput{Request: req, Plan: plan, Tree: tree, Read: read,
				Deny: deny(t), ContextTokens: 4000, Try: func(e []assist.Edit) (err error) {
					applied, err = chain.ApplyEdits(read, deny(t), e)
					return err
				}})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Calls) != 1 || len(res.Edits) != 1 || applied["main.go"] != strings.Replace(mainGo, `"hello"`, `"hello, world"`, 1) {
				t.Errorf("patch %+v applied %q", res, applied)
			}
			if u := chain.Usage(append(plan.Calls, res.Calls...)); u.InputTokens != 1000 || u.OutputTokens != 120 || u.Estimated {
				t.Errorf("usage %+v", u)
			}
			// What left the machine: main.go, not the secrets.
			sent := ""
			for _, r := range s.srv.Requests() {
				sent += r.Text()
			}
			if !strings.Contains(sent, `println("hello")`) {
				t.Error("main.go was not sent")
			}
			for _, secret := range []string{"hunter2", "BEGIN CERTIFICATE", "ghp_", "server.pem", ".env\n"} {
				if strings.Contains(sent, secret) {
					t.Errorf("%q left the machine", secret)
				}
			}
			if why := plan.Context.Withheld["config.go"]; why != "holds a GitHub token" {
				t.Errorf("config.go withheld because %q", why)
			}
			if why := plan.Context.Withheld[".env"]; !strings.Contains(why, "deny-list") {
				t.Errorf(".env withheld because %q", why)
			}
		})
	}
}

func TestPlanAsksWhenUnclear(t *testing.T) {
	tree, read := repo(t)
	answer := "PLAN:\nI cannot tell which greeting you want.\nTARGETS:\nQUESTIONS:\n- Which language should the greeting be in?\n- Should README.md change too?\n"
	for _, s := range servers(t, providertest.Reply{Text: answer, Usage: usage}) {
		plan, err := chain.Plan(context.Background(), s.st, chain.PlanInput{Request: "make it better", Tree: tree, Read: read, Deny: deny(t), ContextTokens: 4000})
		if err != nil {
			t.Fatal(err)
		}
		if len(plan.Questions) != 2 || len(plan.Targets) != 0 || plan.Questions[0] != "Which language should the greeting be in?" {
			t.Errorf("%s: plan %+v", s.st.Provider.Kind(), plan)
		}
	}
}

func TestPatchMalformedThenFixed(t *testing.T) {
	tree, read := repo(t)
	bad := "main.go\n<<<<<<< SEARCH\n\tprintln(\"hello\")\n>>>>>>> REPLACE\n"
	good := "main.go\n<<<<<<< SEARCH\n\tprintln(\"hello\")\n=======\n\tprintln(\"hi\")\n>>>>>>> REPLACE\n"
	for _, s := range servers(t, providertest.Reply{Text: bad, Usage: usage}, providertest.Reply{Text: good}) {
		res, err := chain.Patch(context.Background(), s.st, chain.PatchInput{Request: "say hi", Plan: chain.PlanResult{Plan: "p", Targets: []string{"main.go"}},
			Tree: tree, Read: read, Deny: deny(t), ContextTokens: 4000, Try: func(e []assist.Edit) error { _, err := chain.ApplyEdits(read, deny(t), e); return err }})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Calls) != 2 || len(res.Edits) != 1 || len(res.Failures) != 1 {
			t.Fatalf("%+v", res)
		}
		// The exact parse error went back to the model in the second request.
		reqs := s.srv.Requests()
		second := reqs[len(reqs)-1].Text()
		if !strings.Contains(second, res.Failures[0]) || !strings.Contains(res.Failures[0], "missing its ======= divider") {
			t.Errorf("failure %q not sent back verbatim", res.Failures[0])
		}
		// The first call's usage was reported; the second's was estimated.
		if u := chain.Usage(res.Calls); u.InputTokens <= 500 || !u.Estimated {
			t.Errorf("usage %+v", u)
		}
	}
}

func TestPatchNonMatchingTwice(t *testing.T) {
	tree, read := repo(t)
	wrong := "main.go\n<<<<<<< SEARCH\n\tprintln(\"goodbye\")\n=======\n\tprintln(\"hi\")\n>>>>>>> REPLACE\n"
	for _, s := range servers(t, providertest.Reply{Text: wrong, Usage: usage}) {
		res, err := chain.Patch(context.Background(), s.st, chain.PatchInput{Request: "say hi", Plan: chain.PlanResult{Plan: "p", Targets: []string{"main.go"}},
			Tree: tree, Read: read, Deny: deny(t), ContextTokens: 4000, Try: func(e []assist.Edit) error { _, err := chain.ApplyEdits(read, deny(t), e); return err }})
		if !errors.Is(err, chain.ErrEditsFailed) || !strings.Contains(err.Error(), "search block not found in main.go") {
			t.Fatalf("err = %v", err)
		}
		if len(res.Calls) != 2 || len(res.Failures) != 2 || res.Edits != nil {
			t.Errorf("%+v", res)
		}
		if len(s.srv.Requests()) != 2 {
			t.Errorf("%d requests; the error is sent back once only", len(s.srv.Requests()))
		}
	}
}

func TestPatchProviderErrorKeepsUsage(t *testing.T) {
	tree, read := repo(t)
	for _, s := range servers(t, providertest.Reply{Status: 400, Text: "context too long"}) {
		res, err := chain.Patch(context.Background(), s.st, chain.PatchInput{Request: "x", Plan: chain.PlanResult{Targets: []string{"main.go"}},
			Tree: tree, Read: read, Deny: deny(t), ContextTokens: 4000, Try: func([]assist.Edit) error { return nil }})
		if !errors.Is(err, provider.ErrRequest) || !strings.Contains(err.Error(), "context too long") || len(res.Calls) != 1 {
			t.Errorf("err = %v, calls %d", err, len(res.Calls))
		}
	}
}

func TestApplyEdits(t *testing.T) {
	_, read := repo(t)
	d := deny(t)
	cases := []struct {
		name  string
		edits []assist.Edit
		err   string
	}{
		{"ambiguous", []assist.Edit{{Path: "main.go", Search: "\n", Replace: "x"}}, "matches more than once (5 times)"},
		{"create existing", []assist.Edit{{Path: "main.go", Replace: "x"}}, "main.go exists"},
		{"edit missing", []assist.Edit{{Path: "nope.go", Search: "a", Replace: "b"}}, "nope.go does not exist"},
		{"denied", []assist.Edit{{Path: ".env", Replace: "X=1\n"}}, "deny-list"},
	}
	for _, c := range cases {
		if _, err := chain.ApplyEdits(read, d, c.edits); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
	got, err := chain.ApplyEdits(read, d, []assist.Edit{{Path: "new/file.go", Replace: "package file\n"},
		{Path: "new/file.go", Search: "package file\n", Replace: "package file // new\n"}})
	if err != nil || got["new/file.go"] != "package file // new\n" {
		t.Errorf("new file then edit: %q, %v", got, err)
	}
}

func TestGatherBudget(t *testing.T) {
	tree, read := repo(t)
	c := chain.Gather(tree, read, deny(t), "look at README.md", []string{"main.go"}, 40)
	if len(c.Order) != 1 || c.Order[0] != "main.go" || len(c.Omitted) != 1 || c.Omitted[0] != "README.md" {
		t.Errorf("within 40 tokens: sent %v, omitted %v", c.Order, c.Omitted)
	}
}
