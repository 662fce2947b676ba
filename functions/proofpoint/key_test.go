package proofpoint

import (
	"encoding/json"
	"fmt"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
)

const sampleMessage = `{"GUID":"Xq2Lm9Rt-4cYp-7Vn1-Zb8K-3Hs6Wd5Fg0Jk","QID":"r2FNwRHF004109","messageTime":"2025-03-02T12:15:07.000Z",
"recipient":["ana@example.org"],"ccAddresses":null,"subject":"Invoice \"4471\" overdue","completelyRewritten":"true","headerCC":"",
"threatsInfoMap":[{"threatID":"3ba9","classification":"phish","campaignID":null,"threatTime":"2025-03-02T12:14:58.000Z"}],"messageSize":48211}`

func TestKeyIgnoresWhatTAPVariesBetweenAnswers(t *testing.T) {
	var k keyer
	base, own := k.key(TypeMessagesDelivered, []byte(sampleMessage))
	if len(base) != keyLen || !own.Equal(time.Date(2025, 3, 2, 12, 15, 7, 0, time.UTC)) {
		t.Fatalf("key %q own %v", base, own)
	}
	same := []string{
		// members reordered, whitespace, key case, escapes, drift
		`{"messageSize":48211,"qid":"r2FNwRHF004109","GUID":"Xq2Lm9Rt-4cYp-7Vn1-Zb8K-3Hs6Wd5Fg0Jk","messageTime":"2025-03-02T12:15:07.000Z","recipient":"ana@example.org","subject":"Invoice \u00224471\u0022 overdue","completelyRewritten":true,"threatsInfoMap":[{"threatTime":"2025-03-02T12:14:58.000Z","threatId":"3ba9","classification":"phish"}]}`,
		// nulls, empty strings and empty arrays dropped
		`{"GUID":"Xq2Lm9Rt-4cYp-7Vn1-Zb8K-3Hs6Wd5Fg0Jk","QID":"r2FNwRHF004109","messageTime":"2025-03-02T12:15:07.000Z","recipient":["ana@example.org",null],"toAddresses":[],"replyToAddress":{},"subject":"Invoice \"4471\" overdue","completelyRewritten":"true","threatsInfoMap":{"threatID":"3ba9","classification":"phish","threatTime":"2025-03-02T12:14:58.000Z"},"messageSize":48211}`,
	}
	for _, s := range same {
		if got, _ := k.key(TypeMessagesDelivered, []byte(s)); got != base {
			t.Errorf("key changed for an equivalent event:\n%s", s)
		}
	}
	different := []string{
		strings.Replace(sampleMessage, "ana@example.org", "ben@example.org", 1), // another recipient
		strings.Replace(sampleMessage, `"phish"`, `"malware"`, 1),               // another verdict
		strings.Replace(sampleMessage, `"completelyRewritten":"true"`, `"completelyRewritten":"na"`, 1),
		strings.Replace(sampleMessage, `48211`, `48212`, 1),
		strings.Replace(sampleMessage, `"campaignID":null`, `"campaignID":"c1"`, 1), // a campaign attached later
	}
	for _, s := range different {
		if got, _ := k.key(TypeMessagesDelivered, []byte(s)); got == base {
			t.Errorf("distinct events share a key:\n%s", s)
		}
	}
	if got, _ := k.key(TypeMessagesBlocked, []byte(sampleMessage)); got == base {
		t.Error("the event type must be part of the key")
	}
	// Input that is not JSON still gets a key, distinct from valid input.
	if bad, _ := k.key(TypeMessagesDelivered, []byte(`{"GUID":`)); len(bad) != keyLen || bad == base {
		t.Errorf("key of invalid input %q", bad)
	}
}

// shuffle rewrites a JSON object with its members in random order and
// random key case, the way a different serializer might.
func shuffle(rng *rand.Rand, v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		var b strings.Builder
		b.WriteString("{ ")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(" ,\n")
			}
			name := k
			if rng.IntN(4) == 0 {
				name = strings.ToLower(k)
			}
			kb, _ := json.Marshal(name)
			b.Write(kb)
			b.WriteString(" : ")
			b.WriteString(shuffle(rng, x[k]))
		}
		b.WriteString("}")
		return b.String()
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = shuffle(rng, e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Every simulated event keeps its key under reshuffling, and no two of
// them (per-recipient copies included) share one.
func TestKeysOfSimulatedTrafficAreStableAndDistinct(t *testing.T) {
	sim := proofpointtest.New(proofpointtest.Options{})
	defer sim.Close()
	sim.AddTenant("acme", proofpointtest.Tenant{})
	sim.Generate("acme", proofpointtest.Traffic{From: t0, To: t0.Add(4 * time.Hour), MessagesPerHour: 100, ClicksPerHour: 50, MultiRecipient: 0.5, TimeForms: true})
	rng := rand.New(rand.NewPCG(3, 4))
	var k keyer
	seen := map[string]string{}
	sharedGUID := 0
	guids := map[string]int{}
	for _, e := range sim.Events("acme") {
		key, own := k.key(e.Type, e.Raw)
		if !own.Equal(e.Own) {
			t.Fatalf("own time %v, want %v in %s", own, e.Own, e.Raw)
		}
		if prev, dup := seen[key]; dup {
			t.Fatalf("%s and %s share key %s", prev, e.Identity, key)
		}
		seen[key] = e.Identity
		var v any
		if err := json.Unmarshal(e.Raw, &v); err != nil {
			t.Fatal(err)
		}
		if again, _ := k.key(e.Type, []byte(shuffle(rng, v))); again != key {
			t.Fatalf("key changed when %s was reserialized", e.Identity)
		}
		if g := proofpointtest.Member(v.(map[string]any), "GUID"); g != nil && strings.HasPrefix(e.Type, "messages") {
			guids[fmt.Sprint(g)]++
			if guids[fmt.Sprint(g)] == 2 {
				sharedGUID++
			}
		}
	}
	if sharedGUID < 50 {
		t.Fatalf("only %d messages with several recipients: the test would not prove they stay apart", sharedGUID)
	}
}

func FuzzKey(f *testing.F) {
	f.Add([]byte(sampleMessage), uint64(1))
	f.Add([]byte(`{"a":[1,[2,{"B":null}],""],"b":"\u00e9\ud83d\ude00","C":-1.5e3}`), uint64(2))
	f.Add([]byte(`[{"x":true},{"x":"true"}]`), uint64(3))
	f.Add([]byte(`{"a":"\"`), uint64(4))
	f.Fuzz(func(t *testing.T, raw []byte, seed uint64) {
		var k keyer
		key, _ := k.key("t", raw)
		if len(key) != keyLen {
			t.Fatalf("key %q", key)
		}
		again, _ := k.key("t", raw)
		if again != key {
			t.Fatal("key is not deterministic")
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return
		}
		// A valid value keeps its key when rewritten in another member
		// order, key case and layout.
		if re, _ := k.key("t", []byte(shuffle(rand.New(rand.NewPCG(seed, 0)), v))); re != key {
			// encoding/json merges duplicate names and replaces invalid
			// UTF-8, so only inputs it reproduces exactly must agree.
			canon, _ := json.Marshal(v)
			if c, _ := k.key("t", canon); c == key {
				t.Fatalf("reordered value has another key: %s", raw)
			}
		}
	})
}

// FuzzKeyOfCopyableEvent: the decoder computes the key of an event the
// builder can copy over the event as TAP sent it, and of any other over
// its stripped copy. Both must be the key of the stripped event, the one
// earlier versions computed: what a copy leaves out (null and empty
// members) does not count in the canonical form.
func FuzzKeyOfCopyableEvent(f *testing.F) {
	f.Add([]byte(`[` + sampleMessage + `]`))
	f.Add([]byte(`[{"a":null,"B":"","c":{"d":null,"e":[""]},"f":[],"g":{}},{"x":"é","y":null}]`))
	opts := Envelope().ScanOptions(nil)
	f.Fuzz(func(t *testing.T, page []byte) {
		var k keyer
		jsonscan.ScanArray(page, &opts, func(raw []byte, c jsonscan.Class) error {
			if len(raw) == 0 || raw[0] != '{' || !c.Copyable() {
				return nil
			}
			stripped, _, _, err := jsonscan.Strip(nil, raw, &opts)
			if err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			got, gotTime := k.key("t", raw)
			want, wantTime := k.key("t", stripped)
			if got != want || !gotTime.Equal(wantTime) {
				t.Fatalf("%s: key %s %v, of the stripped event %s %v", raw, got, gotTime, want, wantTime)
			}
			return nil
		})
	})
}

// FuzzCanonToken checks the string decoder of the key against
// encoding/json: a token both accept decodes to the same text.
func FuzzCanonToken(f *testing.F) {
	for _, s := range []string{`"a\"b"`, `"\u00e9\ud83d\ude00"`, `"\ud83d x"`, `"\ud83d\u0041"`, `"\/\b\f\n\r\t\\"`, `"\u12"`, `"x\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, tok []byte) {
		got, ok := appendCanonToken(nil, tok)
		var s string
		if json.Unmarshal(tok, &s) != nil || !utf8.Valid(tok) || len(tok) < 2 || tok[0] != '"' || tok[len(tok)-1] != '"' {
			return
		}
		if !ok {
			t.Fatalf("%q refused, encoding/json reads %q", tok, s)
		}
		if want := appendCanonString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %q, want %q", tok, got, want)
		}
	})
}

// FuzzKeyMatchesV1: the keyer computes, on any input, the key version 1
// computed, so that dedup sets stored by earlier versions keep matching.
func FuzzKeyMatchesV1(f *testing.F) {
	f.Add([]byte(sampleMessage))
	f.Add([]byte(`{"a":[1,[2,{"B":null}],""],"b":"\u00e9\ud83d\ude00","C":-1.5e3}`))
	f.Add([]byte(`[{"x":true},{"x":"true"}]`))
	f.Add([]byte(`{"a":"\"`))
	f.Add([]byte(`{"A":1,"a":2,"abcdefghi":1,"abcdefghj":{"Q":[[]],"q":"\u0041"}}`))
	sim := proofpointtest.New(proofpointtest.Options{})
	sim.AddTenant("f", proofpointtest.Tenant{})
	sim.Generate("f", proofpointtest.Traffic{From: t0, To: t0.Add(time.Hour), MessagesPerHour: 20, ClicksPerHour: 10, MaxIndexLag: -1, Seed: 3})
	d := newSIEMDecoder()
	if _, err := d.decode(sim.Body("f", t0, t0.Add(time.Hour), t0.Add(2*time.Hour))); err != nil {
		f.Fatal(err)
	}
	for _, it := range d.items[:min(len(d.items), 8)] {
		f.Add(append([]byte(nil), it.Raw...))
	}
	sim.Close()
	var k keyer
	var v1 keyerV1
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Twice each, so that the caches of both keyers are exercised.
		for range 2 {
			got, gotTime := k.key("t", raw)
			want, wantTime := v1.key("t", raw)
			if got != want || !gotTime.Equal(wantTime) {
				t.Fatalf("%q: key %s %v, version 1 %s %v", raw, got, gotTime, want, wantTime)
			}
		}
	})
}

// TestKeyMatchesV1OnPages: the keys of whole simulated pages, the shapes
// the caches of the keyer see in production, are those of version 1.
func TestKeyMatchesV1OnPages(t *testing.T) {
	body := benchBody(t, 600)
	d := newSIEMDecoder()
	if _, err := d.decode(body); err != nil {
		t.Fatal(err)
	}
	var v1 keyerV1
	for _, it := range d.items {
		if want, wantTime := v1.key(it.Type, it.Raw); it.Key != want || !it.Time.Equal(wantTime) {
			t.Fatalf("%s: key %s %v, version 1 %s %v", it.Raw, it.Key, it.Time, want, wantTime)
		}
	}
}

// FuzzQuoteOrBackslash checks the eight-bytes-at-a-time search against a
// plain loop.
func FuzzQuoteOrBackslash(f *testing.F) {
	f.Add([]byte(`abcdefgh"ijk`), 0)
	f.Add([]byte(`abcdefghijklmnop\"`), 3)
	f.Add([]byte("\x80\xff\"\\\x00"), 1)
	f.Fuzz(func(t *testing.T, src []byte, i int) {
		if i < 0 || i > len(src) {
			return
		}
		want := i
		for want < len(src) && src[want] != '"' && src[want] != '\\' {
			want++
		}
		if got := quoteOrBackslash(src, i); got != want {
			t.Fatalf("quoteOrBackslash(%q, %d) = %d, want %d", src, i, got, want)
		}
	})
}

// FuzzKeyTokensMatchesKey: the key the decoder computes from the tokens
// of its validating pass is the key of the event's bytes, which version
// 1 computed, on any array the scan accepts.
func FuzzKeyTokensMatchesKey(f *testing.F) {
	f.Add([]byte(`[` + sampleMessage + `]`))
	f.Add([]byte(`[{"a":[1,[2,{"B":null}],""],"b":"\u00e9\ud83d\ude00","C":-1.5e3},{"x":true},{"x":"true"},"s",[{"y":"false"}]]`))
	f.Add([]byte(`[{"A":1,"a":2,"abcdefghi":1,"abcdefghj":{"Q":[[]],"q":"\u0041"}},{"quarantineFolder":"a","quarantineRule":"b"},{"quarantineRule":"b","quarantineFolder":"a"}]`))
	f.Add([]byte(`[{"messageTime":"2026-03-02T00:21:41.131+0100","clickTime":"x","\u0063lickTime":"2026-03-02T00:21:41Z"}, {"a" : [ 1 ] }]`))
	f.Add([]byte(`[{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":{"q":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}}}}}}}}}}}}}}}}}]`))
	f.Add(seedPage(f))
	opts := Envelope().ScanOptions(nil)
	var k keyer
	var v1 keyerV1
	var ts jsonscan.TokenScanner
	f.Fuzz(func(t *testing.T, page []byte) {
		ts.Reset()
		ts.ScanTokens(page, &opts, func(raw []byte, c jsonscan.Class, toks []jsonscan.Token) error {
			// Twice, so that the keyer's caches are exercised.
			for range 2 {
				got, gotTime := k.appendKeyTokens(nil, "t", raw, toks, &ts)
				want, wantTime := v1.key("t", raw)
				if string(got) != want || !gotTime.Equal(wantTime) {
					t.Fatalf("%q: key %s %v, version 1 %s %v", raw, got, gotTime, want, wantTime)
				}
			}
			return nil
		})
	})
}
