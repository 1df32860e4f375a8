package chain_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/patchgit/patchgit/internal/assist"
	"github.com/patchgit/patchgit/internal/assist/chain"
	"github.com/patchgit/patchgit/internal/assist/provider"
)

// TestLiveOpenAICompatible runs Plan and Patch against a real server, for
// example a local Ollama:
//
//	PATCHGIT_TEST_OPENAI_URL=http://127.0.0.1:11434/v1 PATCHGIT_TEST_OPENAI_MODEL=qwen2.5-coder:7b \
//	  go test -run Live -v ./internal/assist/chain/
//
// PATCHGIT_TEST_OPENAI_KEY_ENV names a variable holding a key, if the
// server needs one.
func TestLiveOpenAICompatible(t *testing.T) {
	url := os.Getenv("PATCHGIT_TEST_OPENAI_URL")
	if url == "" {
		t.Skip("no real model server: set PATCHGIT_TEST_OPENAI_URL (and PATCHGIT_TEST_OPENAI_MODEL) to run this test against one")
	}
	model := os.Getenv("PATCHGIT_TEST_OPENAI_MODEL")
	if model == "" {
		t.Fatal("PATCHGIT_TEST_OPENAI_URL is set but PATCHGIT_TEST_OPENAI_MODEL is not: name the model to use")
	}
	p, err := provider.New(provider.Options{Name: "live", Kind: provider.KindOpenAI, BaseURL: url,
		KeyEnv: os.Getenv("PATCHGIT_TEST_OPENAI_KEY_ENV"), Timeout: 5 * time.Minute, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	tree, read := repo(t)
	d := deny(t)
	var streamed int
	st := chain.Stage{Provider: p, Model: model, MaxOutputTokens: 1500, OnDelta: func(s string) { streamed += len(s) }}
	req := `In main.go, change the printed text from "hello" to "hello, world".`
	plan, err := chain.Plan(context.Background(), st, chain.PlanInput{Request: req, Tree: tree, Read: read, Deny: d, ContextTokens: 4000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("plan: %s; targets %v; questions %v; usage %+v", plan.Plan, plan.Targets, plan.Questions, chain.Usage(plan.Calls))
	if len(plan.Questions) > 0 {
		t.Skipf("the model asked instead of planning: %v", plan.Questions)
	}
	res, err := chain.Patch(context.Background(), st, chain.PatchInput{Request: req, Plan: plan, Tree: tree, Read: read, Deny: d,
		ContextTokens: 4000, Try: func(e []assist.Edit) error { _, err := chain.ApplyEdits(read, d, e); return err }})
	t.Logf("patch: %d calls, failures %q, usage %+v, %d bytes streamed", len(res.Calls), res.Failures, chain.Usage(res.Calls), streamed)
	if err != nil {
		t.Fatal(err)
	}
	if streamed == 0 {
		t.Error("nothing was streamed")
	}
}
