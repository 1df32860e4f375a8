package rpc

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

// ref is an argument taken from an earlier step's direct result: field of
// the last result of method.
type ref struct{ method, field string }

// step is one call made both directly and over the wire. "!down" puts both
// services into shutdown.
type step struct {
	method string
	args   []any
}

func roundTripSteps() []step {
	bigPatch := "+" + strings.Repeat("x", memPatchLimit) + "\n"
	conv := ref{"StartConversation", "ID"}
	prop := ref{"Propose", "ID"}
	return []step{
		{"Repos", nil},
		{"Conversations", []any{""}},
		{"Conversations", []any{"nope"}}, // unknown_repo
		{"StartConversation", []any{"alice", "demo", "Fix the typo"}},
		{"StartConversation", []any{"alice", "demo", "  "}}, // empty
		{"Conversations", []any{"demo"}},
		{"Send", []any{"alice", conv, "please fix the typo in main.go"}},
		{"Send", []any{"alice", "c-404", "hello"}}, // not_found
		{"Messages", []any{conv}},
		{"Propose", []any{"alice", "demo", "--- a/main.go\n+++ b/main.go\n@@ -1 +1 @@\n-helo\n+hello\n"}},
		{"Propose", []any{"alice", "demo", bigPatch}}, // too_large (the service's limit, not the frame's)
		{"Proposals", []any{"", ""}},
		{"Proposals", []any{"demo", "proposed"}},
		{"Proposals", []any{"tools", ""}},
		{"Proposal", []any{prop}},
		{"Go", []any{"alice", prop, 2}}, // stale_revision
		{"Go", []any{"alice", prop, 1}},
		{"Go", []any{"alice", prop, 1}}, // idempotent
		{"GoWith", []any{"alice", prop, 1, true}},
		{"GoWith", []any{"alice", prop, 9, false}}, // stale_revision
		{"Budget", nil},
		{"Job", []any{ref{"Go", "ID"}}},
		{"Jobs", nil},
		{"Cancel", []any{"alice", prop}},
		{"Propose", []any{"bob", "tools", "--- a/x\n+++ b/x\n"}},
		{"Cancel", []any{"bob", prop}},
		{"Cancel", []any{"bob", prop}}, // illegal_state
		{"PRs", []any{""}},
		{"PRs", []any{"demo"}},
		{"ClosePR", []any{"alice", "demo", 1}},
		{"MergePR", []any{"alice", "demo", 3}},
		{"MergePR", []any{"alice", "demo", 2}}, // illegal_state
		{"MergePR", []any{"alice", "demo", 7}}, // not_found
		{"Audit", []any{0, 0}},
		{"Audit", []any{2, 2}},
		{"VerifyAudit", nil},
		{"AuditPage", []any{core.AuditQuery{Before: 3, Limit: 1}}},
		{"AuditPage", []any{core.AuditQuery{Limit: 2, AuditFilter: core.AuditFilter{Kind: "proposal."}}}},
		{"AuditTrail", []any{prop}},
		{"LocalPR", []any{"demo", 1}},
		{"LocalPR", []any{"demo", 99}}, // not_found
		{"Subscribe", nil},
		{"WebLink", []any{"alice"}},
		{"SetPIN", []any{"root", "482913"}},
		{"SetPIN", []any{"root", ""}}, // empty
		{"UnlockPIN", []any{"root"}},
		{"Propose", []any{"alice", "demo", "over budget\n"}},
		{"DecideSpend", []any{"alice", prop, 2, true}}, // stale_revision
		{"DecideSpend", []any{"alice", prop, 1, true}},
		{"DecideSpend", []any{"alice", prop, 1, true}}, // idempotent
		{"!down", nil},
		{"Repos", nil}, // shutdown
		{"Subscribe", nil},
	}
}

// TestEveryMethodRoundTrips calls every method of core.Service and
// core.Admin on a service directly and on an identical one over the wire:
// results, error messages and sentinels must match, and the served service
// must see the same calls with the same arguments.
func TestEveryMethodRoundTrips(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		direct, served := newMemService(), newMemService()
		client := tr.connect(t, served, served)
		ctx := context.Background()

		covered := map[string]bool{}
		codes := map[string]bool{}
		last := map[string]reflect.Value{}
		for i, st := range roundTripSteps() {
			if st.method == "!down" {
				direct.down, served.down = true, true // no call is in flight
				continue
			}
			args := resolve(t, st.args, last)
			want := invoke(t, direct, st.method, ctx, args)
			got := invoke(t, client, st.method, ctx, args)
			where := st.method + " (step " + strconv.Itoa(i) + ")"
			wantErr, gotErr := errOf(want), errOf(got)
			compareErrors(t, where, wantErr, gotErr)
			if wantErr != nil {
				codes[codeOf(wantErr)] = true
				continue
			}
			covered[st.method] = true
			if len(want) == 2 {
				if want[0].Kind() == reflect.Chan {
					compareStreams(t, where, direct, client, want[0], got[0])
					continue
				}
				if !reflect.DeepEqual(want[0].Interface(), got[0].Interface()) {
					t.Errorf("%s: over the wire\n got %#v\nwant %#v", where, got[0].Interface(), want[0].Interface())
				}
				last[st.method] = want[0]
			}
		}

		for _, iface := range []reflect.Type{reflect.TypeFor[core.Service](), reflect.TypeFor[core.Admin]()} {
			for i := range iface.NumMethod() {
				if name := iface.Method(i).Name; !covered[name] {
					t.Errorf("%s.%s has no successful round-trip step: add client support and a step", iface, name)
				}
			}
		}
		for _, c := range errorCodes {
			switch c.code {
			case CodeUnauthorized, CodeBadRequest, CodeVersion:
				continue // protocol errors, tested on their own
			}
			if !codes[c.code] {
				t.Errorf("no step produces a %q error", c.code)
			}
		}
		// The PIN is an argument like any other, but the call log never
		// holds it; everything else must have arrived unchanged.
		if d, s := direct.callLog(), served.callLog(); !reflect.DeepEqual(d, s) {
			t.Errorf("the served service saw other calls than the direct one:\n got %q\nwant %q", s, d)
		}
		if got := served.currentPIN(); got != "482913" {
			t.Errorf("SetPIN over the wire stored %q, want the PIN sent", got)
		}
	})
}

// compareStreams opens the same subscription on both sides, causes one
// change on both, and compares the first event each delivers.
func compareStreams(t *testing.T, where string, direct *memService, client *Client, wantCh, gotCh reflect.Value) {
	t.Helper()
	if _, err := direct.StartConversation(context.Background(), "bob", "tools", "events"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.StartConversation(context.Background(), "bob", "tools", "events"); err != nil {
		t.Fatal(err)
	}
	want := recvValue(t, wantCh, where)
	got := recvValue(t, gotCh, where)
	if !reflect.DeepEqual(want, got) {
		t.Errorf("%s: first event over the wire %#v, want %#v", where, got, want)
	}
}

func recvValue(t *testing.T, ch reflect.Value, where string) any {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		v, ok := ch.Recv()
		if !ok {
			done <- nil
			return
		}
		done <- v.Interface()
	}()
	v := waitFor(t, done, where+": an event")
	if v == nil {
		t.Fatalf("%s: the stream closed before its first event", where)
	}
	return v
}

func resolve(t *testing.T, args []any, last map[string]reflect.Value) []any {
	t.Helper()
	out := make([]any, len(args))
	for i, a := range args {
		r, ok := a.(ref)
		if !ok {
			out[i] = a
			continue
		}
		v, ok := last[r.method]
		if !ok {
			t.Fatalf("step refers to %s.%s before any %s succeeded", r.method, r.field, r.method)
		}
		out[i] = v.FieldByName(r.field).Interface()
	}
	return out
}

// invoke calls method on recv by reflection, converting each argument to
// the parameter's type (e.g. untyped int to uint64).
func invoke(t *testing.T, recv any, method string, ctx context.Context, args []any) []reflect.Value {
	t.Helper()
	m := reflect.ValueOf(recv).MethodByName(method)
	if !m.IsValid() {
		t.Fatalf("%T has no method %s", recv, method)
	}
	if m.Type().NumIn() != len(args)+1 {
		t.Fatalf("%s takes %d arguments after ctx, the step gives %d", method, m.Type().NumIn()-1, len(args))
	}
	in := []reflect.Value{reflect.ValueOf(ctx)}
	for i, a := range args {
		in = append(in, reflect.ValueOf(a).Convert(m.Type().In(i+1)))
	}
	return m.Call(in)
}

func errOf(out []reflect.Value) error {
	if e := out[len(out)-1]; !e.IsNil() {
		return e.Interface().(error)
	}
	return nil
}

// compareErrors wants the same message and the same sentinel identity.
func compareErrors(t *testing.T, where string, want, got error) {
	t.Helper()
	if (want == nil) != (got == nil) {
		t.Errorf("%s: error over the wire %v, want %v", where, got, want)
		return
	}
	if want == nil {
		return
	}
	if got.Error() != want.Error() {
		t.Errorf("%s: error message over the wire %q, want %q", where, got.Error(), want.Error())
	}
	for _, c := range errorCodes {
		if errors.Is(got, c.err) != errors.Is(want, c.err) {
			t.Errorf("%s: errors.Is(err, %v) is %v over the wire, %v directly", where, c.err, errors.Is(got, c.err), errors.Is(want, c.err))
		}
	}
}
