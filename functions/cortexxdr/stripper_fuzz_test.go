package cortexxdr

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

// FuzzDecodeRecordsAlone: the decoder's Stripper remembers the shape of
// the record before; each record must decode as it does alone, first in a
// reply, with nothing to remember.
func FuzzDecodeRecordsAlone(f *testing.F) {
	f.Add([]byte(`{"alert_id":"1","local_insert_ts":1740916801234,"a":null,"b":null,"c":"x"}`),
		[]byte(`{"alert_id":"2","local_insert_ts":1740916801235,"a":null,"b":null,"c":null}`))
	f.Add([]byte(`{"alert_id":"1","type":"t","a":null,"event_timestamp":[0],"b":""}`),
		[]byte(`{"alert_id":"1","type":"t","a":null,"event_timestamp":[0],"b":"","c":1}`))
	f.Add([]byte(`{"incident_id":"9","modification_time":1740917400456,"x":null}`), []byte(`{"incident_id":"9","modification_time":0,"x":null}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, def := range Streams() {
			alone := func(rec []byte) (string, bool) {
				r, err := newDecoder(def).decode(replyOf(def, rec))
				if err != nil || len(r.items) != 1 {
					return "", false
				}
				return describe(r, 0), true
			}
			da, okA := alone(a)
			db, okB := alone(b)
			if !okA || !okB {
				continue
			}
			r, err := newDecoder(def).decode(replyOf(def, a, b, a, b, b))
			if err != nil {
				t.Fatalf("%s and %s decode alone but not together: %v", a, b, err)
			}
			for i, want := range []string{da, db, da, db, db} {
				if got := describe(r, i); got != want {
					t.Fatalf("record %d decodes to\n%s\nafter the others, alone to\n%s", i, got, want)
				}
			}
		}
	})
}

func replyOf(def StreamDef, records ...[]byte) []byte {
	body := []byte(`{"reply":{"total_count":1,"` + def.ListKey + `":[`)
	body = append(body, bytes.Join(records, []byte(","))...)
	return append(body, "]}}"...)
}

func describe(r *reply, i int) string {
	it := r.items[i]
	return fmt.Sprintf("%s key=%q time=%v ms=%d clean=%v fields=%d", it.Raw, it.Key, it.Time, r.times[i], it.Scan.Clean, it.Scan.Fields)
}

// TestSimulatedPagesDecodeAsRecordsAlone holds the decoder's Stripper, on
// the pages the benchmarks use (full, compact, and full alerts of two
// shapes in turn), to what each alert decodes to first in a reply, with
// nothing remembered.
func TestSimulatedPagesDecodeAsRecordsAlone(t *testing.T) {
	def := Streams()[0]
	for name, page := range map[string][]byte{
		"full": simReply(t, MaxPageSize, false), "compact": simReply(t, MaxPageSize, true), "mixed": mixedReply(t),
	} {
		d := newDecoder(def)
		if _, err := d.decode(page); err != nil { // a page before, remembered
			t.Fatalf("%s: %v", name, err)
		}
		r, err := d.decode(page)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		start := bytes.Index(page, []byte(`"alerts":[`)) + len(`"alerts":`)
		i := 0
		_, err = jsonscan.Elements(page[start:], func(alert []byte) error {
			alone, err := newDecoder(def).decode(replyOf(def, alert))
			if err != nil || len(alone.items) != 1 {
				return fmt.Errorf("alert %d alone: %v", i, err)
			}
			if got, want := describe(r, i), describe(alone, 0); got != want {
				return fmt.Errorf("alert %d decodes in the page to\n%s\nalone to\n%s", i, got, want)
			}
			i++
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if i != len(r.items) || i != MaxPageSize {
			t.Fatalf("%s: %d alerts, %d items", name, i, len(r.items))
		}
	}
}
