package core_test

import (
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
	"github.com/patchgit/patchgit/internal/forge"
	"github.com/patchgit/patchgit/internal/forge/githubfake"
)

// GO on a GitHub repository (the fake, driven through go-github; the
// branch goes to a local bare repository the fake reads): a draft PR with
// labels, never merged unless the repository opted in to auto_merge.
func TestGitHubPRIsNeverMergedUnlessAutoMergeIsOn(t *testing.T) {
	for _, autoMerge := range []bool{false, true} {
		fake := githubfake.New()
		t.Cleanup(fake.Close)
		fake.AddToken("ghp_core_test_SECRET", true)
		t.Setenv("TEST_GITHUB_TOKEN", "ghp_core_test_SECRET")
		e := newEnvWith(t, func(e *env, o *core.Options) {
			fake.AddRepo("acme/demo", e.bare)
			o.Forges = map[string]forge.Forge{"github": forge.NewGitHub(map[string]forge.GitHubRepo{
				"demo": {Owner: "acme", Name: "demo", APIURL: fake.URL, Token: forge.Token{Env: "TEST_GITHUB_TOKEN"}}}, fake.Client())}
			o.Repos[0].Forge = "github"
			o.Repos[0].Checks = []string{"test -f go.mod"}
			o.Repos[0].Labels = []string{"patchgit"}
			o.Repos[0].AutoMerge = autoMerge
		})
		cv := startConversation(t, e)
		p := publish(t, e, cv, makeDiff(t, e.bare, addNotes(t, "github\n")))
		if p.State != core.StatePublished {
			t.Fatalf("auto_merge=%v: state %s reason %q", autoMerge, p.State, p.Reason)
		}
		pulls := fake.Pulls("acme/demo")
		if len(pulls) != 1 || pulls[0].Head != p.Branch || len(pulls[0].Labels) != 1 || pulls[0].Merged != autoMerge {
			t.Fatalf("auto_merge=%v: GitHub holds %+v", autoMerge, pulls)
		}
		if want := "PatchGit never merges"; !autoMerge && !strings.Contains(pulls[0].Body, want) {
			t.Errorf("body lacks %q", want)
		}
		msgs, _ := e.core.Messages(ctx, cv.ID)
		last := msgs[len(msgs)-1].Text
		if autoMerge != strings.Contains(last, "Merged #1 (auto_merge is on") {
			t.Fatalf("auto_merge=%v: last message %q", autoMerge, last)
		}
		e.close()
	}
}
