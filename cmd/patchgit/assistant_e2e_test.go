package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/assist/providertest"
	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/rpc"
)

// TestE2EModelChainDraftsAProposalFromProse runs the real daemon with an
// assistant section naming a local OpenAI-compatible server (scripted),
// its key in the environment: a request in prose becomes a Proposed
// proposal on the demo repository, the calls are priced in the budget and
// audited, and the key is in neither the log nor the audit.
func TestE2EModelChainDraftsAProposalFromProse(t *testing.T) {
	requireTools(t, "git", "go")
	const key = "sk-e2e-model-key-0123456789-never-logged"
	usage := &providertest.Usage{Input: 1200, Output: 80}
	srv := providertest.NewOpenAI(t,
		providertest.Reply{Text: "PLAN:\nRename the README heading.\nTARGETS:\n- README.md\nQUESTIONS:\n- none\n", Usage: usage},
		providertest.Reply{Text: "README.md\n<<<<<<< SEARCH\n# demo\n=======\n# demo project\n>>>>>>> REPLACE\n", Usage: usage})
	data := t.TempDir()
	conf := fmt.Sprintf(`assistant:
  providers:
    - {name: local, kind: openai, base_url: %s, api_key_env: E2E_MODEL_KEY}
  tiers:
    base: {provider: local, model: e2e-coder}
budget:
  models:
    - {model: e2e-coder, input: $1.00, output: $4.00, cached: $0.10}
`, srv.URL)
	if err := os.WriteFile(filepath.Join(data, "patchgit.yaml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, data, "PATCHGIT_PIN="+testPIN, "E2E_MODEL_KEY="+key)
	ctx := context.Background()
	cl, err := rpc.Dial(ctx, filepath.Join(data, socketFile), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cv, err := cl.StartConversation(ctx, "alice", "demo", "model")
	if err != nil {
		t.Fatal(err)
	}
	m, err := cl.Send(ctx, "alice", cv.ID, "Rename the README heading to demo project")
	if err != nil || m.ProposalID == "" {
		t.Fatalf("send: %+v %v", m, err)
	}
	p := waitState(t, cl, m.ProposalID, core.StateProposed)
	rev := p.Current()
	if rev.Source != core.SourceModel || !strings.Contains(rev.Diff, "+# demo project") || len(rev.Spent) != 2 {
		t.Fatalf("revision %+v", rev)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != "Bearer "+key {
		t.Fatalf("%d requests; the key from api_key_env must authorize them", len(reqs))
	}
	// Each call: 1200 input tokens at $1/M + 80 output at $4/M = $0.00152.
	if b := readBudget(t, data); b.Hour.Spent != 3040 || b.Hour.Reserved != 0 {
		t.Errorf("budget after two calls of $0.00152: %+v", b.Hour)
	}
	audit, err := patchgit(t, data, "", "audit", "export")
	if err != nil || strings.Count(audit, `"model.call"`) != 2 {
		t.Errorf("audit export: %d model.call entries, err %v", strings.Count(audit, `"model.call"`), err)
	}
	for what, text := range map[string]string{"log": d.logs.String(), "audit": audit} {
		if strings.Contains(text, key) {
			t.Errorf("the key is in the %s", what)
		}
	}
}
