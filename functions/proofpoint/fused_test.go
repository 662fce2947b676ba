package proofpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
)

// sameDecoding fails t unless the decoder reads body as the reference way
// does: the same error, or the same queryEndTime and items (bytes, type,
// class, key and own time); and every key is the one version 1 computes
// over the item's bytes (a copied event's key is its stripped copy's,
// FuzzKeyOfCopyableEvent).
func sameDecoding(t *testing.T, fast, ref *siemDecoder, body []byte) {
	t.Helper()
	gotEnd, gotErr := fast.decode(body)
	wantEnd, wantErr := ref.decode(body)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !gotEnd.Equal(wantEnd) {
		t.Fatalf("%q: end %v error %v, reference %v %v", body, gotEnd, gotErr, wantEnd, wantErr)
	}
	if len(fast.items) != len(ref.items) {
		t.Fatalf("%q: %d items, reference %d", body, len(fast.items), len(ref.items))
	}
	for i, got := range fast.items {
		want := ref.items[i]
		if !bytes.Equal(got.Raw, want.Raw) || got.Type != want.Type || got.Key != want.Key || !got.Time.Equal(want.Time) {
			t.Fatalf("item %d: %q %s %s %v, reference %q %s %s %v", i, got.Raw, got.Type, got.Key, got.Time, want.Raw, want.Type, want.Key, want.Time)
		}
		gc, wc := got.Scan, want.Scan
		if gc.Clean != wc.Clean || gc.Fields != wc.Fields || !slices.Equal(gc.Holes, wc.Holes) || (gc.Holes == nil) != (wc.Holes == nil) || (gc.Opts == nil) != (wc.Opts == nil) || gc.Opts != nil && !gc.Opts.Equal(wc.Opts) {
			t.Fatalf("item %d %q: class %+v, reference %+v", i, got.Raw, gc, wc)
		}
	}
	var v1 keyerV1
	for _, it := range fast.items {
		if want, wantTime := v1.key(it.Type, it.Raw); it.Key != want || !it.Time.Equal(wantTime) {
			t.Fatalf("%q: key %s %v, version 1 %s %v", it.Raw, it.Key, it.Time, want, wantTime)
		}
	}
}

func referenceDecoder() *siemDecoder {
	d := newSIEMDecoder()
	d.reference = true
	return d
}

// TestFusedMatchesReferenceOnSimulatedAnswers: on the simulator's answers,
// and on variants of them that send events the reference way (layout,
// escapes, values to repair), the fused walker reads what the reference
// way reads.
func TestFusedMatchesReferenceOnSimulatedAnswers(t *testing.T) {
	fast, ref := newSIEMDecoder(), referenceDecoder()
	for seed := range uint64(6) {
		sim := proofpointtest.New(proofpointtest.Options{})
		sim.AddTenant("f", proofpointtest.Tenant{})
		sim.Generate("f", proofpointtest.Traffic{From: t0, To: t0.Add(2 * time.Hour), MessagesPerHour: 150, ClicksPerHour: 80, MultiRecipient: 0.4, Campaigns: 0.3, TimeForms: seed%2 == 0, Retroactive: 0.2, Seed: seed + 1})
		body := sim.Body("f", t0, t0.Add(2*time.Hour), t0.Add(3*time.Hour))
		sim.Close()
		sameDecoding(t, fast, ref, body)
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		pretty, _ := json.MarshalIndent(v, "", " ")
		sameDecoding(t, fast, ref, pretty)
		rng := rand.New(rand.NewPCG(seed, 9))
		for range 20 {
			sameDecoding(t, fast, ref, mutate(rng, body))
		}
	}
}

// mutate changes a few bytes of body into ones that matter to a JSON
// scanner.
func mutate(rng *rand.Rand, body []byte) []byte {
	out := slices.Clone(body)
	pieces := []string{`\`, `"`, `\u0000`, `\ud83d\ude00`, `\ud800`, `\ude00`, `\u00e9`, "\x01", "\xff", "é", ` `, `null`, `""`, `[]`, `{}`, `,`, `:`, `1e5`, `12345678901`, `-0.5`, `}`, `]`, `[null]`, `"event_type"`, `"MessageTime"`}
	for range 1 + rng.IntN(3) {
		at := rng.IntN(len(out))
		p := pieces[rng.IntN(len(pieces))]
		if rng.IntN(2) == 0 {
			out = slices.Insert(out, at, []byte(p)...)
		} else {
			out = slices.Replace(out, at, min(len(out), at+len(p)), []byte(p)...)
		}
	}
	return out
}

// FuzzFusedMatchesReference: on any array of events, the fused walker
// reads what the reference way reads (TokenScanner, then the key from its
// tokens, or jsonscan.Strip and the key of the stripped copy).
func FuzzFusedMatchesReference(f *testing.F) {
	f.Add([]byte(`[` + sampleMessage + `]`))
	f.Add([]byte(`[{"a":[1,[2,{"B":null}],""],"b":"\u00e9\ud83d\ude00","C":-1.5e3},{"x":true},{"x":"true"},"s",[{"y":"false"}]]`))
	f.Add([]byte(`[{"A":1,"a":2,"abcdefghi":1,"abcdefghj":{"Q":[[]],"q":"\u0041"}},{"quarantineFolder":"a","quarantineRule":"b"},{"quarantineRule":"b","quarantineFolder":"a"}]`))
	f.Add([]byte(`[{"messageTime":"2026-03-02T00:21:41.131+0100","clickTime":"x","\u0063lickTime":"2026-03-02T00:21:41Z"}, {"a" : [ 1 ] }]`))
	f.Add([]byte(`[{"a":null,"B":"","c":{"d":null,"e":[""]},"f":[],"g":{}},{"x":"é","y":null},{"event_type":1},{"n":2147483648,"m":-2147483648,"o":1e99}]`))
	f.Add([]byte(`[{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":{"q":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}}}}}}}}}}}}}}}}}]`))
	// Events the walker declines among ones it reads (declined first, or
	// more often than not, the whole array goes the reference way).
	f.Add([]byte(`[{"ok":1},{"a":"x\u0000"},{"ok":2},{"b":"\ud800"},{"ok":3},{"b2":"\udfff"},{"ok":4},{"c":"` + "\x7f\xc3\xa9\xe2\x80\x93" + `"},{"ok":5},{"d":[null]},{"ok":6},{"e" :1},{"ok":7},{"f":12345678901},{"ok":8},{"\u0067":1},{"ok":9},"s"]`))
	f.Add([]byte(`[{"c":1},{"d":01}]`))
	f.Add([]byte(`[{"c":1},{"e":"\q"}]`))
	f.Add(seedPage(f))
	fast, ref := newSIEMDecoder(), referenceDecoder()
	f.Fuzz(func(t *testing.T, events []byte) {
		body := append(append([]byte(`{"queryEndTime":"2026-03-02T01:00:00Z","messagesDelivered":`), events...), '}')
		// Twice, so that the walkers' caches are exercised.
		for range 2 {
			sameDecoding(t, fast, ref, body)
		}
	})
}
