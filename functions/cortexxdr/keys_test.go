package cortexxdr

import "testing"

// The items' dedup keys, which the decoder gathers into one string a page:
// each item gets its own record's id (decoded), none when the record has
// none, and an incident its id at its modification time.
func TestDecodeItemKeys(t *testing.T) {
	for _, tc := range []struct {
		stream, body string
		want         []string
	}{
		{StreamAlerts, `{"reply":{"total_count":5,"alerts":[` +
			`{"alert_id":"a\u0062","local_insert_ts":1740916800123},{"alert_id":42,"local_insert_ts":1740916800124},` +
			`{"alert_id":"","local_insert_ts":1740916800125},{"local_insert_ts":1740916800126},{"alert_id":"plain-7","x":null}]}}`,
			[]string{"ab", "42", "", "", "plain-7"}},
		{StreamIncidents, `{"reply":{"total_count":2,"incidents":[` +
			`{"incident_id":"7","modification_time":1740916800123},{"incident_id":"8","modification_time":1740916800999}]}}`,
			[]string{"7:1740916800123", "8:1740916800999"}},
	} {
		var def StreamDef
		for _, d := range Streams() {
			if d.Name == tc.stream {
				def = d
			}
		}
		d := newDecoder(def)
		for round := 0; round < 2; round++ { // the decoder's buffers are reused
			r, err := d.decode([]byte(tc.body))
			if err != nil {
				t.Fatalf("%s: %v", tc.stream, err)
			}
			if len(r.items) != len(tc.want) {
				t.Fatalf("%s: %d items, want %d", tc.stream, len(r.items), len(tc.want))
			}
			for i, it := range r.items {
				if it.Key != tc.want[i] {
					t.Errorf("%s item %d: key %q, want %q", tc.stream, i, it.Key, tc.want[i])
				}
			}
		}
	}
}
