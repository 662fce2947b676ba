package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// seedStrip is the seed wodle's strip_nulls (onepassword_utils.py), written
// from its rules rather than from our code: inside objects, members whose
// value is None or "" are dropped; inside lists only None; {} and [] stay.
func seedStrip(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			if val == nil || val == "" {
				continue
			}
			out[k] = seedStrip(val)
		}
		return out
	case []any:
		out := []any{}
		for _, e := range x {
			if e != nil {
				out = append(out, seedStrip(e))
			}
		}
		return out
	}
	return v
}

// documentedConversions applies the differences the README lists: integers
// outside the 32-bit range become strings; NUL becomes U+FFFD in names and
// values.
func documentedConversions(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[strings.ReplaceAll(k, "\x00", "\uFFFD")] = documentedConversions(e)
		}
		return out
	case string:
		return strings.ReplaceAll(x, "\x00", "\uFFFD")
	case []any:
		for i, e := range x {
			x[i] = documentedConversions(e)
		}
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := x.Int64(); err != nil || n > 2147483647 || n < -2147483648 {
				return s
			}
		}
	}
	return v
}

// seedEmit is what the seed's emit(record, record_type) put under "op".
func seedEmit(t *testing.T, raw []byte, eventType string) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("simulator event is not JSON: %v", err)
	}
	op := documentedConversions(seedStrip(v)).(map[string]any)
	op["event_type"] = eventType
	return op
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOutputIsTheSeedEventShapeFieldForField(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	start := time.Now().Add(-3 * time.Hour)
	streams := map[string]string{
		onepasswordtest.StreamAuditEvents:    "audit_event",
		onepasswordtest.StreamSignInAttempts: "signin_attempt",
		onepasswordtest.StreamItemUsages:     "item_usage",
	}
	for s := range streams {
		h.sim.Generate("acme", s, 300, start, 10*time.Second)
		h.sim.IngestSpecial("acme", s, start.Add(time.Hour))
	}
	res := h.run("--page-limit", "100")
	if res.exit != 0 {
		t.Fatalf("exit %d, stderr %q", res.exit, res.stderr)
	}
	got := map[string]map[string]any{}
	var other []map[string]any
	for _, m := range decode(t, res.lines) {
		if m["integration"] != "1password" || len(m) != 2 {
			t.Fatalf("envelope is not {integration, op}: %v", m)
		}
		o := op(m)
		meta, ok := o["wazuh_pull"].(map[string]any)
		if !ok {
			t.Fatalf("no metadata: %v", o)
		}
		delete(o, "wazuh_pull")
		if id, ok := o["uuid"].(string); ok && o["event_type"] != "error" && o["event_type"] != "run_summary" {
			if meta["dedup_key"] != id || meta["tenant"] != "default" {
				t.Fatalf("metadata %v for %s", meta, id)
			}
			got[id] = o
		} else {
			other = append(other, o)
		}
	}
	n := 0
	for s, et := range streams {
		ids := h.sim.EventIDs("acme", s)
		for seq, id := range ids {
			want := seedEmit(t, h.sim.Event("acme", s, seq), et)
			if canonical(got[id]) != canonical(want) {
				t.Fatalf("%s event %d differs from the seed's emit rules\n got  %s\n want %s", s, seq, canonical(got[id]), canonical(want))
			}
			n++
		}
	}
	if n != len(got) || n != 903 {
		t.Fatalf("compared %d events, received %d", n, len(got))
	}
	if len(other) != 1 || other[0]["event_type"] != "run_summary" {
		t.Fatalf("unexpected extra lines: %v", other)
	}
	sum := other[0]
	for _, k := range []string{"source", "timestamp", "audit_ran", "audit_success", "signin_ran", "signin_success", "itemusage_ran", "itemusage_success"} {
		if _, ok := sum[k]; !ok {
			t.Fatalf("run_summary lacks the seed's %q: %v", k, sum)
		}
	}
	if sum["source"] != "orchestrator" || sum["audit_success"] != true {
		t.Fatalf("run_summary %v", sum)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", sum["timestamp"].(string)); err != nil {
		t.Fatalf("run_summary timestamp is not the seed's format: %v", sum["timestamp"])
	}
}

func TestErrorEventHasTheSeedFields(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	h.sim.Generate("acme", onepasswordtest.StreamSignInAttempts, 10, time.Now().Add(-time.Hour), time.Second)
	h.sim.Inject(onepasswordtest.Fault{Endpoint: onepasswordtest.StreamSignInAttempts, Kind: onepasswordtest.FaultInternalError, Count: 10})
	res := h.run("--source", "signin", "--http-attempts", "2")
	if res.exit != exitFailed {
		t.Fatalf("exit %d, want %d", res.exit, exitFailed)
	}
	errs := errorsOf(t, res.lines)
	if len(errs) != 1 {
		t.Fatalf("error events: %v", errs)
	}
	e := errs[0]
	delete(e, "wazuh_pull")
	keys := []string{}
	for k := range e {
		keys = append(keys, k)
	}
	want := map[string]bool{"source": true, "error_code": true, "error_message": true, "error_detail": true, "timestamp": true, "event_type": true}
	for _, k := range keys {
		if !want[k] {
			t.Fatalf("unexpected error field %q in %v", k, e)
		}
		delete(want, k)
	}
	if len(want) != 0 || e["source"] != "signin" || e["error_code"] != "API_HTTP_500" || e["event_type"] != "error" {
		t.Fatalf("error event %v (missing %v)", e, want)
	}
	sum := summaries(t, res.lines)[0]
	if sum["signin_ran"] != true || sum["signin_success"] != false || sum["audit_ran"] != false {
		t.Fatalf("summary %v", sum)
	}
}

// TestRejectedTokenFailsEveryStream: with a token 1Password refuses, the
// seed still tried every stream after its introspect call failed, so its
// run summary said <stream>_success false for each, which its stream
// failure rules (100706-100708, then 100750) count. Every stream must be
// tried and reported failed here too, each with its own 401 error event,
// and no position is written.
func TestRejectedTokenFailsEveryStream(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	h.sim.Generate("acme", onepasswordtest.StreamAuditEvents, 10, time.Now().Add(-time.Hour), time.Second)
	h.env["OP_BEARER_TOKEN"] = "not-a-token-1password-knows"
	res := h.run("--http-attempts", "1")
	if res.exit != exitFailed {
		t.Fatalf("exit %d, want %d: %s", res.exit, exitFailed, res.stderr)
	}
	bySource := map[string]string{}
	for _, e := range errorsOf(t, res.lines) {
		bySource[e["source"].(string)] = e["error_code"].(string)
	}
	for _, s := range []string{"orchestrator", "audit", "signin", "itemusage"} {
		if bySource[s] != "API_HTTP_401" {
			t.Fatalf("error events by source %v: want API_HTTP_401 from %s", bySource, s)
		}
	}
	sum := summaries(t, res.lines)[0]
	for _, s := range []string{"audit", "signin", "itemusage"} {
		if sum[s+"_ran"] != true || sum[s+"_success"] != false {
			t.Fatalf("summary %v: want %s_ran true and %s_success false", sum, s, s)
		}
	}
	if state, err := os.ReadFile(h.env["OP_STATE_FILE"]); err == nil && bytes.Contains(state, []byte("cursor")) {
		t.Fatalf("a refused run wrote a position: %s", state)
	}
}

func TestMultiTenantSummaryAndState(t *testing.T) {
	h := newHarness(t, onepasswordtest.Options{})
	tokB := h.sim.AddAccount("beta", onepasswordtest.Account{Seed: 12, Features: []string{"signinattempts"}})
	h.sim.Generate("acme", onepasswordtest.StreamAuditEvents, 20, time.Now().Add(-time.Hour), time.Second)
	h.sim.Generate("beta", onepasswordtest.StreamSignInAttempts, 30, time.Now().Add(-time.Hour), time.Second)
	tokens := filepath.Join(h.dir, "tenants.json")
	doc := `{"tenants":[{"name":"client-a","bearer_token":"` + h.token + `"},{"name":"client-b","bearer_token":"` + tokB + `"}]}`
	if err := os.WriteFile(tokens, []byte(doc), 0o640); err != nil {
		t.Fatal(err)
	}
	h.env["OP_TOKENS_FILE"] = tokens
	delete(h.env, "OP_BEARER_TOKEN")
	res := h.run()
	if res.exit != 0 {
		t.Fatalf("exit %d: %s", res.exit, res.stderr)
	}
	byTenant := map[string]int{}
	for _, m := range decode(t, res.lines) {
		o := op(m)
		if o["event_type"] == "run_summary" {
			continue
		}
		byTenant[o["wazuh_pull"].(map[string]any)["tenant"].(string)]++
	}
	if byTenant["client-a"] != 20 || byTenant["client-b"] != 30 {
		t.Fatalf("events per tenant %v", byTenant)
	}
	sum := summaries(t, res.lines)[0]
	tenants := sum["tenants"].(map[string]any)
	a, b := tenants["client-a"].(map[string]any), tenants["client-b"].(map[string]any)
	if sum["mode"] != "multi_tenant" || a["audit_ran"] != true || b["audit_ran"] != false || b["signin_success"] != true {
		t.Fatalf("multi-tenant summary %v", sum)
	}
	state, _ := os.ReadFile(h.env["OP_STATE_FILE"])
	if !bytes.Contains(state, []byte(`"client-a/1password/audit"`)) || !bytes.Contains(state, []byte(`"client-b/1password/signin"`)) {
		t.Fatalf("state keys lack the tenant: %s", state)
	}
}
