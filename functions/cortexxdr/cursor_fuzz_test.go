package cortexxdr

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzCursorDecode: a stored cursor either is refused or decodes to one
// that holds its invariants and survives being stored again unchanged.
func FuzzCursorDecode(f *testing.F) {
	for _, s := range []string{
		`{"watermark":1772438400000}`,
		`{"watermark":1772438400000,"window":{"from":1772438400000,"to":1772438500000,"upper":1772438600000,"offset":300,"total":900,"distinct":290}}`,
		`{"watermark":1772438400000,"window":{"from":1772438400000,"to":1772438400000,"upper":1772438600000,"offset":0,"total":-1,"unkeyed":true}}`,
		`{"watermark":1772438400000,"skip":40,"to":1772438500000}`,
		`{"watermark":1772438400000,"created":1772430000000,"skip":100,"to":1772438500000}`,
		`{"watermark":-1}`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var a alertCursor
		if a.decode(raw) == nil {
			if a.Watermark <= 0 || a.Window != nil && (a.Window.From != a.Watermark || a.Window.To < a.Window.From || a.Window.Distinct < 0 || a.Window.Total < -1) {
				t.Fatalf("alerts cursor %s accepted as %+v", raw, a)
			}
			again, _ := json.Marshal(a)
			var b alertCursor
			if err := b.decode(again); err != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("alerts cursor %s stored again as %s: %v", raw, again, err)
			}
		}
		var i incidentCursor
		if i.decode(raw) == nil {
			if i.Watermark <= 0 || i.Skip < 0 || i.Skip > 0 && i.Created == 0 || i.Created > 0 && i.To == 0 {
				t.Fatalf("incidents cursor %s accepted as %+v", raw, i)
			}
			again, _ := json.Marshal(i)
			var j incidentCursor
			if err := j.decode(again); err != nil || i != j {
				t.Fatalf("incidents cursor %s stored again as %s: %v", raw, again, err)
			}
		}
	})
}
