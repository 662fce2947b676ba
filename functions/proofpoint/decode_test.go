package proofpoint

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

func TestDecodeSimulatedAnswer(t *testing.T) {
	sim := proofpointtest.New(proofpointtest.Options{})
	defer sim.Close()
	sim.AddTenant("acme", proofpointtest.Tenant{})
	sim.Generate("acme", proofpointtest.Traffic{From: t0, To: t0.Add(time.Hour), MessagesPerHour: 200, ClicksPerHour: 100, MaxIndexLag: -1})
	body := sim.Body("acme", t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	d := newSIEMDecoder()
	end, err := d.decode(body)
	if err != nil || !end.Equal(t0.Add(time.Hour)) {
		t.Fatalf("end %v err %v", end, err)
	}
	want := map[string]int{}
	for _, e := range sim.Events("acme") {
		want[e.Type]++
	}
	got := map[string]int{}
	for _, it := range d.items {
		got[it.Type]++
		if it.Key == "" || it.Time.IsZero() || it.Scan.Opts == nil {
			t.Fatalf("item %+v", it)
		}
	}
	for typ, n := range want {
		if got[typ] != n {
			t.Fatalf("%s: %d items, want %d", typ, got[typ], n)
		}
	}
}

func TestDecodeToleratesTheDocumentedVariations(t *testing.T) {
	cases := []struct {
		body  string
		types string
		end   bool
	}{
		{`{"queryEndTime":"2026-03-02T01:00:00Z","messagesBlocked":[],"clicksPermitted":[{"id":"a"}]}`, "clicksPermitted", true},
		{`{"queryEndTime":"2026-03-02T01:00:00Z"}`, "", true},
		{`{"queryEndTime":null,"clicksBlocked":[{"id":"n"}]}`, "clicksBlocked", false},
		{`{"queryEndTime":"2026-03-02T01:00:00.000+00:00","clicksBlocked":null,"MessagesDelivered":[{"GUID":"g"}]}`, "messagesDelivered", true},
		{`{"messagesQuarantined":[{"GUID":"q"}],"queryEndTime":"2026-03-02T02:00:00+0100"}`, "messagesQuarantined", true},
		{` {"clicksBlocked":[{"id":"x"},7]} `, "clicksBlocked,clicksBlocked", false},
	}
	for _, c := range cases {
		d := newSIEMDecoder()
		end, err := d.decode([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		var types []string
		for _, it := range d.items {
			types = append(types, it.Type)
		}
		if strings.Join(types, ",") != c.types || end.IsZero() == c.end || c.end && !end.Equal(t0.Add(time.Hour)) {
			t.Errorf("%s: types %v end %v", c.body, types, end)
		}
	}
	for _, bad := range []string{``, `[]`, `{"queryEndTime":5}`, `{"queryEndTime":"yesterday"}`, `{"clicksBlocked":[{"id":"x"}]} {}`, `{"clicksBlocked":[{"id":"x"}`, `<html>`} {
		if _, err := newSIEMDecoder().decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q) accepted", bad)
		}
	}
}

func FuzzSIEMDecode(f *testing.F) {
	f.Add([]byte(`{"queryEndTime":"2026-03-02T01:00:00Z","messagesBlocked":[` + sampleMessage + `],"clicksPermitted":[{"id":"a","clickTime":"2026-03-02T00:59:00.000Z"}]}`))
	f.Add([]byte(`{"clicksBlocked":null,"x":{"y":[1,2]},"messagesDelivered":[{},[],"s"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := newSIEMDecoder()
		_, err := d.decode(body)
		var ref map[string]json.RawMessage
		refErr := json.Unmarshal(body, &ref)
		if err != nil {
			return
		}
		if refErr != nil && json.Valid(body) {
			t.Fatalf("accepted %q that is not an object", body)
		}
		n := 0
		for _, it := range d.items {
			if m, err := jsonscan.Skip(it.Raw); err != nil || m != len(it.Raw) {
				t.Fatalf("item %q is not one JSON value", it.Raw)
			}
			if len(it.Key) != keyLen {
				t.Fatalf("key %q", it.Key)
			}
			n++
		}
		if refErr == nil {
			want := 0
			for _, v := range ref {
				var arr []json.RawMessage
				if json.Unmarshal(v, &arr) == nil {
					want += len(arr)
				}
			}
			// Duplicate member names are merged by encoding/json.
			if n < want {
				t.Fatalf("%d items, encoding/json sees %d elements in %q", n, want, body)
			}
		}
	})
}
