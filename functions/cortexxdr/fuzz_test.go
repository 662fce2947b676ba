package cortexxdr

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

func fuzzSeeds(f *testing.F) {
	for _, s := range []string{
		`{"reply":{"total_count":1,"result_count":1,"alerts":[{"alert_id":"1","local_insert_ts":1740916801234,"event_timestamp":[1,0,null],"x":null}]}}`,
		`{"reply":{"total_count":2,"alerts":[{"alert_id":7},null,"s",{"alert_id":"x\u00e9","case_id":12345678901,"tags":[]}]}}`,
		`{"reply":{"total_count":1,"incidents":[{"incident_id":"9","modification_time":1740917400456,"status":"new","hosts":["a"]}],"restricted_incident_ids":[]}}`,
		`{"reply":{"err_code":401,"err_msg":"Public API request unauthorized","err_extra":null}}`,
		`{"reply":{"total_count":0,"alerts":null}}`, `{"reply":{}}`, `{}`, `[]`, `{"reply":{"total_count":-1,"alerts":[]}}`,
		`{"reply":{"total_count":1,"alerts":[{"alert_id":"1","dynamic_fields":{"a":{"b":[1,{"c":null}]}},"local_insert_ts":"2025"}]}} `,
	} {
		f.Add([]byte(s))
	}
}

// FuzzDecodeReply: any body either decodes or is refused with an error;
// a decoded record is valid JSON that the event builder would copy as it
// is (reshaping is done once, in the decoder) and fits Wazuh's fields.
func FuzzDecodeReply(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, def := range Streams() {
			d := newDecoder(def)
			r, err := d.decode(body)
			if err != nil {
				continue
			}
			if r.total < -1 || len(r.items) != len(r.times) {
				t.Fatalf("total %d, %d items, %d times", r.total, len(r.items), len(r.times))
			}
			for _, it := range r.items {
				if !json.Valid(it.Raw) {
					t.Fatalf("item is not JSON: %q", it.Raw)
				}
				if it.Raw[0] != '{' {
					continue
				}
				out, n, res, err := jsonscan.Strip(nil, it.Raw, &d.opts)
				if err != nil || n != len(it.Raw) || !bytes.Equal(out, it.Raw) || res.Fields != it.Scan.Fields || !it.Scan.Clean {
					t.Fatalf("record %q is not in its final shape (%q, %v)", it.Raw, out, err)
				}
				if it.Scan.Fields > fieldBudget {
					t.Fatalf("record of %d fields", it.Scan.Fields)
				}
			}
			again, err := newDecoder(def).decode(body)
			if err != nil || len(again.items) != len(r.items) {
				t.Fatalf("not deterministic: %v", err)
			}
		}
	})
}

// FuzzTransform: a record, whatever it holds, becomes one valid line
// within the line and field limits, with the envelope, the type and the
// metadata the rules rely on, identical from run to run.
func FuzzTransform(f *testing.F) {
	f.Add([]byte(`{"alert_id":"1","local_insert_ts":1740916801234,"severity":"high","type":"spoof","wazuh_pull":{"x":1}}`))
	f.Add([]byte(`{"incident_id":"9","modification_time":1740917400456,"status":"resolved_other","event_timestamp":[0]}`))
	f.Add([]byte(`{"alert_id":"` + string(bytes.Repeat([]byte("é\\n"), 9000)) + `"}`))
	wide := []byte(`{"alert_id":"w"`)
	for i := 0; i < 300; i++ {
		wide = append(wide, `,"f`...)
		wide = append(wide, byte('a'+i%26), byte('a'+i/26))
		wide = append(wide, `":[1]`...)
	}
	f.Add(append(wide, '}'))
	f.Fuzz(func(t *testing.T, record []byte) {
		for _, def := range Streams() {
			body := []byte(`{"reply":{"total_count":1,"` + def.ListKey + `":[`)
			body = append(body, record...)
			body = append(body, "]}}"...)
			d := newDecoder(def)
			r, err := d.decode(body)
			if err != nil {
				continue
			}
			b, err := event.NewBuilder(event.Config{Envelope: Envelope(), Meta: event.Meta{Tenant: "t", Stream: def.Name, RunID: "r"}, MaxLine: sink.DefaultMaxLine, EpochMillis: EpochMillis()})
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range r.items {
				line, info, err := b.AppendClassified(nil, it.Raw, it.Scan, it.Type, it.Key)
				if err != nil {
					if it.Raw[0] == '{' {
						t.Fatalf("record %q refused: %v", it.Raw, err)
					}
					continue
				}
				if len(line)-1 > sink.DefaultMaxLine || info.Bytes != len(line)-1 || bytes.Count(line, []byte{'\n'}) != 1 {
					t.Fatalf("line of %d bytes", len(line))
				}
				var v map[string]any
				if err := json.Unmarshal(line, &v); err != nil {
					t.Fatalf("line is not JSON: %v", err)
				}
				x, _ := v["xdr"].(map[string]any)
				if v["integration"] != "cortex_xdr" || len(v) != 2 || x["type"] != def.EventType || x["wazuh_pull"] == nil {
					t.Fatalf("envelope: %s", line)
				}
				if n := wazuhFields(v); n > event.MaxFields {
					t.Fatalf("%d fields", n)
				}
				again, _, _ := b.AppendClassified(nil, it.Raw, it.Scan, it.Type, it.Key)
				if !bytes.Equal(line, again) {
					t.Fatal("not deterministic")
				}
			}
		}
	})
}
