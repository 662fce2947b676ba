package ruleset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Decoded is an event's fields as Wazuh's JSON decoder (the stock "json"
// decoder, 0006-json_decoders.xml) names them: nested members joined with
// dots, in document order.
type Decoded struct {
	Names  []string
	Values map[string]string
	// folded maps names in ASCII lower case to the first field of that
	// name in document order, built on first use.
	folded map[string]string
}

// Has reports whether a rule naming the field finds it.
func (d *Decoded) Has(name string) bool {
	_, ok := d.Get(name)
	return ok
}

// Get returns a field's value as rules see it. analysisd looks fields up
// by name without regard to ASCII case (FindField uses strcasecmp), the
// first in document order: a rule on pp.threatID reads TAP's threatId.
func (d *Decoded) Get(name string) (string, bool) {
	if d.folded == nil {
		d.folded = make(map[string]string, len(d.Names))
		for _, n := range d.Names {
			k := asciiLower(n)
			if _, dup := d.folded[k]; !dup {
				d.folded[k] = d.Values[n]
			}
		}
	}
	v, ok := d.folded[asciiLower(name)]
	return v, ok
}

// asciiLower lowers ASCII letters only, as strcasecmp compares.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// StaticFields are the top-level keys the JSON decoder stores in
// analysisd's fixed fields rather than as dynamic fields; a rule's
// <field name> cannot name them (analysisd refuses to load it).
var StaticFields = []string{"srcip", "dstip", "srcport", "dstport", "protocol", "action", "srcuser", "dstuser",
	"user", "id", "status", "url", "data", "extra_data", "systemname", "system_name"}

// Decode decodes one event line the way the JSON decoder does:
//
//   - objects are walked, member names joined with "." (an empty object
//     yields no field);
//   - strings keep their text; true/false and null become "true",
//     "false", "null";
//   - a number is printed as an integer when it is one within the 32-bit
//     range, else with six decimals (so 1700000000000 becomes
//     "1700000000000.000000");
//   - an array is one field holding its JSON text (Wazuh prints it with
//     cJSON's layout, whitespace differs from the text kept here).
//
// A repeated member name keeps its first value here (Wazuh keeps both).
func Decode(line []byte) (*Decoded, error) {
	if !json.Valid(line) {
		return nil, errors.New("event is not valid JSON")
	}
	t := bytes.TrimSpace(line)
	if len(t) == 0 || t[0] != '{' {
		return nil, errors.New("event is not a JSON object")
	}
	d := &Decoded{Values: map[string]string{}}
	if err := walkOrdered(t, "", d); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	return d, nil
}

// walkOrdered walks the object in raw in document order.
func walkOrdered(raw []byte, prefix string, d *Decoded) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return errors.New("not an object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		key := kt.(string)
		name := key
		if prefix != "" {
			name = prefix + "." + key
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return err
		}
		val = bytes.TrimSpace(val)
		switch {
		case len(val) > 0 && val[0] == '{':
			if err := walkOrdered(val, name, d); err != nil {
				return err
			}
			continue
		case len(val) > 0 && val[0] == '[':
			var buf bytes.Buffer
			if err := json.Compact(&buf, val); err != nil {
				return err
			}
			d.add(name, buf.String())
		case len(val) > 0 && val[0] == '"':
			var s string
			if err := json.Unmarshal(val, &s); err != nil {
				return err
			}
			d.add(name, s)
		case string(val) == "true", string(val) == "false", string(val) == "null":
			d.add(name, string(val))
		default:
			d.add(name, formatNumber(string(val)))
		}
	}
	_, err = dec.Token()
	return err
}

func (d *Decoded) add(name, value string) {
	if _, dup := d.Values[name]; dup {
		return
	}
	d.Names = append(d.Names, name)
	d.Values[name] = value
}

// formatNumber prints a JSON number as cJSON and the decoder do.
func formatNumber(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if f == math.Trunc(f) && f >= math.MinInt32 && f <= math.MaxInt32 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'f', 6, 64)
}
