package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func strip(t testing.TB, in string, opts *Options) string {
	t.Helper()
	out, n, _, err := Strip(nil, []byte(in), opts)
	if err != nil {
		t.Fatalf("Strip(%s): %v", in, err)
	}
	if rest := strings.TrimSpace(in[n:]); rest != "" {
		t.Fatalf("Strip left %q unconsumed", rest)
	}
	return string(out)
}

func TestStripFollowsSeedEmitRules(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"a":null}`, `{}`},
		{`{"a":""}`, `{}`},
		{`{"a":"", "b": 1}`, `{"b":1}`},
		{`{"a":{"b":null,"c":""}}`, `{"a":{}}`},
		{`{"a":[]}`, `{"a":[]}`},
		{`{"a":[null,"",1,null]}`, `{"a":["",1]}`},
		{`{"a":[{"x":null,"y":""},{}]}`, `{"a":[{},{}]}`},
		{`{"a":0,"b":false,"c":" "}`, `{"a":0,"b":false,"c":" "}`},
		{` { "k" : "v" , "n" : -1.5e3 } `, `{"k":"v","n":-1.5e3}`},
		{`{"s":"line\nbreak \"q\" \u00e9 Zoë 李雷 🙂"}`, `{"s":"line\nbreak \"q\" \u00e9 Zoë 李雷 🙂"}`},
	}
	for _, c := range cases {
		if got := strip(t, c.in, nil); got != c.want {
			t.Errorf("Strip(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestStripQuotesIntegersBeyondInt32(t *testing.T) {
	got := strip(t, `{"a":2147483647,"b":2147483648,"c":-2147483648,"d":-2147483649,"e":1700000000000,"f":1.5,"g":[12345678901]}`, nil)
	want := `{"a":2147483647,"b":"2147483648","c":-2147483648,"d":"-2147483649","e":"1700000000000","f":1.5,"g":["12345678901"]}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	if got := strip(t, `{"e":1700000000000}`, &Options{KeepBigInts: true}); got != `{"e":1700000000000}` {
		t.Fatalf("KeepBigInts: got %s", got)
	}
}

func TestStripConvertsEpochMillis(t *testing.T) {
	opts := &Options{EpochMillis: []string{"creation_time", "local_insert_ts"}}
	got := strip(t, `{"creation_time":1740916800123,"nested":{"local_insert_ts":0},"other":1740916800123,"creation_time2":1,"x":{"creation_time":1.5}}`, opts)
	want := `{"creation_time":"2025-03-02T12:00:00.123Z","nested":{"local_insert_ts":"1970-01-01T00:00:00.000Z"},"other":"1740916800123","creation_time2":1,"x":{"creation_time":1.5}}`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

func TestStripDropsEnvelopeKeysAtTopLevelOnly(t *testing.T) {
	opts := &Options{DropTopLevel: []string{"event_type"}}
	got := strip(t, `{"event_type":{"deep":[1]},"a":{"event_type":"kept"}}`, opts)
	if got != `{"a":{"event_type":"kept"}}` {
		t.Fatalf("got %s", got)
	}
}

func TestStripMakesBrokenStringsSafe(t *testing.T) {
	got := strip(t, "{\"a\":\"x\ny\x01\xff\"}", nil)
	if got != `{"a":"x\u000ay\u0001\ufffd"}` {
		t.Fatalf("got %s", got)
	}
	if !json.Valid([]byte(got)) {
		t.Fatalf("output not valid JSON")
	}
}

func TestStripRejectsMalformedInput(t *testing.T) {
	for _, in := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":tru}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":[1,]}`, `{"a":"unterminated}`, `{"a":1 "b":2}`, strings.Repeat(`{"a":`, MaxDepth+2)} {
		_, _, _, err := Strip(nil, []byte(in), nil)
		if err == nil {
			t.Errorf("Strip(%q) accepted malformed input", in)
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("Strip(%q): error %v is not ErrSyntax", in, err)
		}
	}
}

func TestFieldCount(t *testing.T) {
	_, _, res, err := Strip(nil, []byte(`{"a":1,"b":{"c":"x","d":[1,2,{"e":1}]},"e":null,"f":"","g":{},"h":true}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	// a, b.c, b.d (one array field), h
	if res.Fields != 4 {
		t.Fatalf("Fields = %d, want 4", res.Fields)
	}
}

func TestMembersAndElements(t *testing.T) {
	page := []byte(` {"cursor":"abc","has_more":true,"items":[{"uuid":"1"}, {"uuid":"2"}],"x":null} trailing`)
	var names []string
	var items []string
	n, err := Members(page, func(name, value []byte) error {
		names = append(names, string(name))
		if Name(name, "items") {
			_, err := Elements(value, func(v []byte) error {
				items = append(items, string(v))
				return nil
			})
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(page[n:]) != " trailing" {
		t.Fatalf("Members consumed to %d", n)
	}
	if !reflect.DeepEqual(names, []string{`"cursor"`, `"has_more"`, `"items"`, `"x"`}) {
		t.Fatalf("names = %v", names)
	}
	if !reflect.DeepEqual(items, []string{`{"uuid":"1"}`, `{"uuid":"2"}`}) {
		t.Fatalf("items = %v", items)
	}
	if v, ok := String([]byte(`"a\u00e9\n"`)); !ok || v != "aé\n" {
		t.Fatalf("String = %q, %v", v, ok)
	}
	if _, ok := String([]byte(`abc`)); ok {
		t.Fatalf("String accepted a non-string")
	}
}

// reference applies the seed's strip_nulls to a decoded value, the way the
// Python wodle did, plus our documented number conversions.
func reference(v any, opts *Options, top bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			if val == nil || val == "" {
				continue
			}
			k = strings.ReplaceAll(k, "\x00", "\uFFFD")
			if top && contains(opts.DropTopLevel, k) {
				continue
			}
			if opts.UnsetEpochLists && contains(opts.EpochMillis, k) {
				if v, keep := unsetEpochReference(val, opts); keep {
					out[k] = v
				}
				continue
			}
			if n, ok := val.(json.Number); ok && contains(opts.EpochMillis, k) {
				if ms, err := n.Int64(); err == nil && !strings.ContainsAny(n.String(), ".eE") && ms >= 0 && ms <= 253402300799999 {
					out[k] = time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
					continue
				}
			}
			out[k] = reference(val, opts, false)
		}
		return out
	case []any:
		out := []any{}
		for _, e := range x {
			if e != nil {
				out = append(out, reference(e, opts, false))
			}
		}
		return out
	case string:
		return strings.ReplaceAll(x, "\x00", "\uFFFD")
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") && !opts.KeepBigInts && !fitsInt32([]byte(s)) {
			return s
		}
		return x
	}
	return v
}

// unsetEpochReference is the Cortex XDR seed's _convert_ts_field with our
// documented difference: integers at or below zero are unset and dropped,
// positive ones become ISO 8601 with milliseconds, lists are converted
// element by element and dropped when nothing is left, and values that are
// not integers are kept (the seed dropped them).
func unsetEpochReference(val any, opts *Options) (any, bool) {
	conv := func(e any) (any, bool) {
		n, ok := e.(json.Number)
		if !ok || strings.ContainsAny(n.String(), ".eE") {
			return reference(e, opts, false), e != nil
		}
		if strings.HasPrefix(n.String(), "-") || n.String() == "0" {
			return nil, false
		}
		if ms, err := n.Int64(); err == nil && ms <= 253402300799999 {
			return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z"), true
		}
		return reference(e, opts, false), true
	}
	if list, ok := val.([]any); ok {
		out := []any{}
		for _, e := range list {
			if v, keep := conv(e); keep {
				out = append(out, v)
			}
		}
		return out, len(out) > 0
	}
	return conv(val)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func decode(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	return v, err
}

// hasDuplicateNames reports duplicate member names, for which Python and
// encoding/json keep the last value while the scanner keeps both.
func hasDuplicateNames(b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj  bool
		seen map[string]bool
		key  bool
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch x := tok.(type) {
		case json.Delim:
			if x == '{' || x == '[' {
				if top != nil && top.obj {
					top.key = true
				}
				stack = append(stack, &frame{obj: x == '{', seen: map[string]bool{}, key: true})
				continue
			}
			stack = stack[:len(stack)-1]
			continue
		case string:
			if top != nil && top.obj && top.key {
				if top.seen[x] {
					return true
				}
				top.seen[x] = true
				top.key = false
				continue
			}
		}
		if top != nil && top.obj {
			top.key = true
		}
	}
}

func FuzzStripMatchesReference(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":null,"b":"","c":[null,"",{}],"d":{"e":null}}`,
		`{"uuid":"X","timestamp":"2025-03-02T08:15:41.118273645Z","n":12345678901,"f":-0.5e-3}`,
		`{"creation_time":1740916800123,"event_type":"x","s":"a\u0000\n\\\"é"}`,
		"{\"raw\":\"\x01\xff\xfe\"}", `{"a":[[[]]],"b":true,"c":false}`,
		// Names that decode to the dropped ones, NUL, surrogates, invalid
		// UTF-8 in names.
		`{"event_\u0074ype":"forged","\u0065vent_type":1,"ok":"\ud83d\ude00"}`,
		`{"k\u0000":"v\u0000w","lone":"\ud800x","low":"\udc00","lit":"\ufffd"}`,
		"{\"n\x00m\":\"raw\x00nul\",\"bad\xffname\":1,\"\xc3\":{\"creation_\\u0074ime\":1740916800123}}",
	} {
		f.Add([]byte(s))
	}
	opts := &Options{DropTopLevel: []string{"event_type"}, EpochMillis: []string{"creation_time"}}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, n, res, err := Strip(nil, in, opts)
		valid := json.Valid(in)
		if err != nil {
			if valid && len(bytes.TrimSpace(in)) > 0 && bytes.TrimSpace(in)[0] == '{' && json.Valid(bytes.TrimSpace(in)) {
				t.Fatalf("Strip rejected valid JSON object %q: %v", in, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not valid JSON: %q", out)
		}
		if bytes.ContainsAny(out, "\n\r") {
			t.Fatalf("output contains a raw line break: %q", out)
		}
		if v, err := decode(out); err != nil || hasNUL(v) {
			t.Fatalf("output has a NUL character, which Wazuh's parser cuts at: %q", out)
		}
		if _, err := Members(out, func(name, _ []byte) error {
			for _, k := range opts.DropTopLevel {
				if n, _ := String(name); n == k {
					return fmt.Errorf("kept %s", name)
				}
			}
			return nil
		}); err != nil {
			t.Fatalf("a top-level name that decodes to a dropped one survived: %v in %q", err, out)
		}
		again, _, res2, _ := Strip(nil, in, opts)
		if !bytes.Equal(out, again) || res != res2 {
			t.Fatalf("not deterministic")
		}
		if _, err := Skip(in); err != nil {
			t.Fatalf("Skip rejects what Strip accepts: %v", err)
		}
		if !valid || !json.Valid(in[:n]) || hasDuplicateNames(in[:n]) {
			return
		}
		want, err := decode(in[:n])
		if err != nil {
			return
		}
		got, err := decode(out)
		if err != nil {
			t.Fatalf("decode output: %v", err)
		}
		ref := reference(want, opts, true)
		if fmt.Sprint(normalize(got)) != fmt.Sprint(normalize(ref)) {
			t.Fatalf("Strip(%s)\n got %s\nwant %v", in, out, ref)
		}
	})
}

// hasNUL reports a NUL character in any decoded name or string.
func hasNUL(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if strings.Contains(k, "\x00") || hasNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case string:
		return strings.Contains(x, "\x00")
	}
	return false
}

// normalize makes numbers comparable by value text.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case json.Number:
		return "num:" + x.String()
	}
	return v
}

func FuzzSkipAgreesWithValid(f *testing.F) {
	f.Add([]byte(`{"a":[1,2,{"b":"c"}]}`))
	f.Add([]byte(`"x"`))
	f.Add([]byte(`[1,`))
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := Skip(in)
		if json.Valid(in) && err != nil {
			t.Fatalf("Skip rejected valid JSON %q: %v", in, err)
		}
		if err == nil && n > len(in) {
			t.Fatalf("Skip returned %d beyond input", n)
		}
	})
}

func TestMembersFuncLetsTheCallerConsume(t *testing.T) {
	page := []byte(`{"a":1, "items":[{"x":1},{"y":[2]}] ,"b":"s"}`)
	var items []string
	var names []string
	n, err := MembersFunc(page, func(name, rest []byte) (int, error) {
		names = append(names, string(name))
		if Name(name, "items") {
			return Elements(rest, func(v []byte) error {
				items = append(items, string(v))
				return nil
			})
		}
		return Skip(rest)
	})
	if err != nil || n != len(page) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if fmt.Sprint(names) != `["a" "items" "b"]` || fmt.Sprint(items) != `[{"x":1} {"y":[2]}]` {
		t.Fatalf("names %v items %v", names, items)
	}
	if _, err := MembersFunc([]byte(`{"a":1}`), func(name, rest []byte) (int, error) { return 0, nil }); err == nil {
		t.Fatal("a callback that consumes nothing must be an error")
	}
	if _, err := MembersFunc([]byte(`{"a":[1,}`), func(name, rest []byte) (int, error) { return Skip(rest) }); !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v", err)
	}
}

func TestScanArrayClassifies(t *testing.T) {
	opts := &Options{DropTopLevel: []string{"event_type"}, EpochMillis: []string{"ts"}}
	cases := []struct {
		elem  string
		clean bool
	}{
		{`{"a":"x","b":{"c":[1,"",true]},"d":1.5}`, true},
		{`{"a":null}`, false},
		{`{"a":""}`, false},
		{`{"a":[1,null]}`, false},
		{`{"a": 1}`, false},
		{`{"a":2147483648}`, false},
		{`{"ts":1740916800123}`, false},
		{`{"x":{"ts":1}}`, false},
		{`{"event_type":"x"}`, false},
		{`{"x":{"event_type":"kept"}}`, true},
		{"{\"a\":\"\x01\"}", false},
		{"{\"a\":\"\xff\"}", false},
		{`{"a":"\u00e9\n é"}`, true},
		{`"not an object"`, true},
	}
	for _, c := range cases {
		var got []Class
		var elems []string
		_, err := ScanArray([]byte("["+c.elem+" ]"), opts, func(e []byte, cl Class) error {
			got = append(got, cl)
			elems = append(elems, string(e))
			return nil
		})
		if err != nil || len(got) != 1 || elems[0] != c.elem {
			t.Fatalf("%s: %v %q", c.elem, err, elems)
		}
		if got[0].Clean != c.clean {
			t.Errorf("%s: clean=%v, want %v", c.elem, got[0].Clean, c.clean)
		}
	}
	for _, bad := range []string{`[{"a":1}`, `[{"a":"x]`, `[1,,2]`, `[1}`, `{}`, `[{"a":tru}]`, `[{"a":01}]`} {
		if _, err := ScanArray([]byte(bad), opts, func([]byte, Class) error { return nil }); err == nil {
			t.Errorf("ScanArray(%s) accepted", bad)
		}
	}
}

// FuzzScanArrayAgreesWithStrip: ScanArray accepts every array that
// encoding/json accepts and finds the same elements, and an element it
// calls clean is exactly what Strip would produce from it, with the same
// field count.
func FuzzScanArrayAgreesWithStrip(f *testing.F) {
	f.Add([]byte(`[{"a":1},"x",[2,{"b":"]"}],null,{"n":null,"e":"","ts":5}]`))
	f.Add([]byte(`[ ]`))
	f.Add([]byte(`[{"event_type":1,"k":[1,[2,null]]},{"big":12345678901}]`))
	f.Add([]byte(`[{"event_\u0074ype":"x"},{"\u0074s":1},{"a\u0000":"b"},{"s":"\ud800"},{"s":"\ud83d\ude00\ufffd"}]`))
	f.Add([]byte("[{\"k\x00\":1},{\"\xff\":\"\x00\"}]"))
	f.Add([]byte(`[{"a":null,"b":"","c":1,"d":null,"e":{"f":null},"g":{"h":"","i":[null]},"j":""},{"k":null}]`))
	opts := &Options{DropTopLevel: []string{"event_type"}, EpochMillis: []string{"ts"}}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want []json.RawMessage
		werr := json.Unmarshal(in, &want)
		var got []string
		_, gerr := ScanArray(in, opts, func(v []byte, c Class) error {
			got = append(got, string(v))
			if len(v) == 0 || v[0] != '{' {
				return nil
			}
			out, n, res, err := Strip(nil, v, opts)
			if err != nil || n != len(v) {
				t.Fatalf("ScanArray accepted %q but Strip did not: %v", v, err)
			}
			if c.Clean && (string(out) != string(v) || res.Fields != c.Fields) {
				t.Fatalf("clean element %q: Strip gives %q (%d fields, class says %d)", v, out, res.Fields, c.Fields)
			}
			if c.Clean && c.Holes != nil {
				t.Fatalf("clean element %q has holes %v", v, c.Holes)
			}
			if cp := c.AppendCopy(nil, v); c.Copyable() && (string(out) != string(cp) || res.Fields != c.Fields) {
				t.Fatalf("element %q with holes %v copies as %q (class: %d fields); Strip gives %q (%d fields)", v, c.Holes, cp, c.Fields, out, res.Fields)
			}
			return nil
		})
		if werr != nil || bytes.TrimSpace(in)[0] != '[' {
			return // ScanArray may accept more (control characters, bad UTF-8) than encoding/json
		}
		if gerr != nil || len(got) != len(want) {
			t.Fatalf("encoding/json reads %d elements, ScanArray %d (%v)", len(want), len(got), gerr)
		}
		for i := range got {
			var a, b any
			json.Unmarshal(want[i], &a)
			if err := json.Unmarshal([]byte(got[i]), &b); err != nil || fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("element %d: %q, encoding/json has %q", i, got[i], want[i])
			}
		}
	})
}

// Names are matched by what they decode to: a vendor's escaped
// "event_\u0074ype" or "wazuh_pul\u006c" must not survive next to the
// envelope's own members (Wazuh would see duplicate keys).
func TestEscapedNamesAreMatchedDecoded(t *testing.T) {
	opts := &Options{DropTopLevel: []string{"event_type", "wazuh_pull"}, EpochMillis: []string{"ts"}}
	got := strip(t, `{"event_\u0074ype":"forged","wazuh_pul\u006c":{"run_id":"x"},"\u0065vent_type":1,"a":{"\u0074s":0},"b\/c":1}`, opts)
	if want := `{"a":{"\u0074s":"1970-01-01T00:00:00.000Z"},"b\/c":1}`; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	for quoted, want := range map[string]bool{`"\u0069tems"`: true, `"items"`: true, `"it\u0065ms"`: true, `"item"`: false, `"itemss"`: false, `"\u0069tem"`: false, `"items\u0000"`: false} {
		if Name([]byte(quoted), "items") != want {
			t.Errorf("Name(%s, items) = %v", quoted, !want)
		}
	}
	if !Name([]byte(`"\ud83d\ude00"`), "😀") || !Name([]byte(`"\ud83d"`), "\uFFFD") {
		t.Error("surrogates decode like encoding/json's")
	}
}

// NUL ends a string for Wazuh's JSON parser, and a lone surrogate makes it
// refuse the line: both become U+FFFD, in names and values.
func TestNULAndLoneSurrogatesAreReplaced(t *testing.T) {
	cases := map[string]string{
		`{"a\u0000b":"x\u0000y"}`:                                `{"a\ufffdb":"x\ufffdy"}`,
		"{\"a\x00b\":\"x\x00y\"}":                                `{"a\ufffdb":"x\ufffdy"}`,
		`{"s":"\ud800","t":"\udc00x","u":"\ud800\u0041"}`:        `{"s":"\ufffd","t":"\ufffdx","u":"\ufffd\u0041"}`,
		`{"pair":"\ud83d\ude00","lit":"\ufffd","esc":"\\u0000"}`: `{"pair":"\ud83d\ude00","lit":"\ufffd","esc":"\\u0000"}`,
	}
	for in, want := range cases {
		if got := strip(t, in, nil); got != want {
			t.Errorf("Strip(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestClassificationSeesEscapedNamesAndNUL(t *testing.T) {
	opts := &Options{DropTopLevel: []string{"event_type"}, EpochMillis: []string{"ts"}}
	for elem, clean := range map[string]bool{
		`{"event_\u0074ype":"x"}`: false,
		`{"x":{"\u0074s":5}}`:     false,
		`{"\u0061":"b"}`:          true, // kept as it is: copying is right
		`{"a":"\u0000"}`:          false,
		`{"a\u0000":"b"}`:         false,
		`{"a":"\ud800"}`:          false,
		`{"a":"\ud83d\ude00"}`:    true,
		`{"a":"\ufffd"}`:          true,
	} {
		var got Class
		if _, err := ScanArray([]byte("["+elem+"]"), opts, func(_ []byte, c Class) error { got = c; return nil }); err != nil {
			t.Fatal(err)
		}
		if got.Clean != clean {
			t.Errorf("%s: clean=%v, want %v", elem, got.Clean, clean)
		}
	}
}

// FuzzNameMatchesDecoded: a quoted name matches exactly the string
// encoding/json decodes it to (escapes, surrogates and all).
func FuzzNameMatchesDecoded(f *testing.F) {
	for _, s := range []string{`event_\u0074ype`, `items`, `a\u0000`, `\ud83d\ude00`, `\ud800`, `\udc00\u0041`, `x\/y`, `\"\\`, "\xff"} {
		f.Add(s, "event_type")
	}
	f.Fuzz(func(t *testing.T, inner, want string) {
		quoted := []byte(`"` + inner + `"`)
		if _, err := Skip(quoted); err != nil || len(quoted) != 2+len(inner) {
			return
		}
		var decoded string
		if err := json.Unmarshal(quoted, &decoded); err != nil {
			return // raw control characters: not a JSON string encoding/json reads
		}
		if !utf8.ValidString(inner) {
			return // encoding/json replaces invalid bytes; names keep them and match nothing valid
		}
		if got := Name(quoted, decoded); !got {
			t.Fatalf("Name(%s, %q) = false", quoted, decoded)
		}
		if Name(quoted, want) != (want == decoded) {
			t.Fatalf("Name(%s, %q) = %v, decoded %q", quoted, want, !(want == decoded), decoded)
		}
	})
}

func TestUnsetEpochLists(t *testing.T) {
	opts := &Options{EpochMillis: []string{"ts", "event_timestamp"}, UnsetEpochLists: true}
	cases := map[string]string{
		`{"ts":1740916800123}`: `{"ts":"2025-03-02T12:00:00.123Z"}`,
		`{"a":1,"ts":0,"b":2}`: `{"a":1,"b":2}`,
		`{"ts":-5}`:            `{}`,
		`{"ts":-0}`:            `{}`,
		`{"event_timestamp":[1740916800123, 0,null,-1,1]}`: `{"event_timestamp":["2025-03-02T12:00:00.123Z","1970-01-01T00:00:00.001Z"]}`,
		`{"event_timestamp":[0,null],"x":1}`:               `{"x":1}`,
		`{"event_timestamp":[],"x":1}`:                     `{"x":1}`,
		`{"event_timestamp":["s",1.5,{"ts":0}]}`:           `{"event_timestamp":["s",1.5,{}]}`,
		`{"ts":"12","o":{"ts":[2]}}`:                       `{"ts":"12","o":{"ts":["1970-01-01T00:00:00.002Z"]}}`,
		`{"ts":99999999999999999999}`:                      `{"ts":"99999999999999999999"}`,
		`{"ts":[99999999999999999999]}`:                    `{"ts":["99999999999999999999"]}`,
		`{"other":[0,-1]}`:                                 `{"other":[0,-1]}`,
	}
	for in, want := range cases {
		out, _, res, err := Strip(nil, []byte(in), opts)
		if err != nil || string(out) != want {
			t.Errorf("Strip(%s) = %s, %v; want %s", in, out, err, want)
			continue
		}
		n := 0
		ScanArray([]byte("["+want+"]"), nil, func(_ []byte, c Class) error { n = c.Fields; return nil })
		if res.Fields != n {
			t.Errorf("Strip(%s) counts %d fields, the output has %d", in, res.Fields, n)
		}
		ScanArray([]byte("["+in+"]"), opts, func(_ []byte, c Class) error {
			if c.Clean && in != want {
				t.Errorf("%s classified clean but Strip changes it", in)
			}
			return nil
		})
	}
}

func FuzzStripUnsetEpochListsMatchesReference(f *testing.F) {
	for _, s := range []string{
		`{"ts":[1,0,-1,null,"x"],"n":0,"o":{"ts":0}}`, `{"ts":0}`, `{"ts":[]}`, `{"ts":1740916800123}`,
	} {
		f.Add([]byte(s))
	}
	opts := &Options{DropTopLevel: []string{"type"}, EpochMillis: []string{"ts"}, UnsetEpochLists: true}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, n, _, err := Strip(nil, in, opts)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not valid JSON: %q", out)
		}
		var dirty bool
		if _, err := ScanArray(append(append([]byte("["), in[:n]...), ']'), opts, func(_ []byte, c Class) error {
			dirty = !c.Clean
			return nil
		}); err != nil {
			t.Fatalf("ScanArray rejects what Strip accepts: %v", err)
		}
		if !dirty && !bytes.Equal(out, bytes.TrimSpace(in[:n])) {
			t.Fatalf("%q classified clean, Strip gives %q", in[:n], out)
		}
		if !json.Valid(in[:n]) || hasDuplicateNames(in[:n]) {
			return
		}
		want, err := decode(in[:n])
		if err != nil {
			return
		}
		got, _ := decode(out)
		if ref := reference(want, opts, true); fmt.Sprint(normalize(got)) != fmt.Sprint(normalize(ref)) {
			t.Fatalf("Strip(%s)\n got %s\nwant %v", in, out, ref)
		}
	})
}

func TestCaptureLocatesTopLevelValues(t *testing.T) {
	opts := &Options{EpochMillis: []string{"ts"}, UnsetEpochLists: true, Capture: [2]string{"id", "ts"}}
	cases := []struct{ in, id, ts string }{
		{`{"id":"a","ts":1740916800123}`, `"a"`, `"2025-03-02T12:00:00.123Z"`},
		{`{"x":{"id":1},"ts":[0],"id":12345678901}`, `"12345678901"`, ``},
		{`{"ts":0,"id":null,"o":{"ts":5}}`, ``, ``},
		{` { "id" : [1, null] , "y":"" }`, `[1]`, ``},
	}
	for _, c := range cases {
		out, _, res, err := Strip([]byte("prefix"), []byte(c.in), opts)
		if err != nil {
			t.Fatal(err)
		}
		got := func(sp Span) string {
			if sp.End == 0 {
				return ""
			}
			return string(out[sp.Start:sp.End])
		}
		if got(res.Captured[0]) != c.id || got(res.Captured[1]) != c.ts {
			t.Errorf("Strip(%s) captured %q %q, want %q %q", c.in, got(res.Captured[0]), got(res.Captured[1]), c.id, c.ts)
		}
	}
}

// FuzzCaptureAgreesWithMembers: a captured value is the value of that
// top-level member in the output, as a walk of the output finds it.
func FuzzCaptureAgreesWithMembers(f *testing.F) {
	f.Add([]byte(`{"id":"a","ts":[1,0],"n":{"id":2}}`))
	f.Add([]byte(`{"ts":null,"id":""}`))
	opts := &Options{EpochMillis: []string{"ts"}, UnsetEpochLists: true, Capture: [2]string{"id", "ts"}}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, _, res, err := Strip(nil, in, opts)
		if err != nil || hasDuplicateNames(out) {
			return
		}
		want := [2]string{}
		Members(out, func(name, v []byte) error {
			for k, c := range opts.Capture {
				if Name(name, c) {
					want[k] = string(v)
				}
			}
			return nil
		})
		for k, sp := range res.Captured {
			got := ""
			if sp.End > 0 {
				got = string(out[sp.Start:sp.End])
			}
			if got != want[k] {
				t.Fatalf("Strip(%q) = %s: captured %q for %q, the output has %q", in, out, got, opts.Capture[k], want[k])
			}
		}
	})
}

// FuzzNameInMatchesNameIs: the list lookup with its fast path for names
// without escapes answers what nameIs answers for each candidate.
func FuzzNameInMatchesNameIs(f *testing.F) {
	for _, s := range []string{`event_\u0074ype`, `event_type`, `ts`, `t\u0073`, `\ud800`, `x\/y`, "\xff", ``} {
		f.Add(s, "event_type", "ts")
	}
	f.Fuzz(func(t *testing.T, raw, a, b string) {
		list := []string{a, b}
		want := nameIs([]byte(raw), a) || nameIs([]byte(raw), b)
		if got := nameIn([]byte(raw), list); got != want {
			t.Fatalf("nameIn(%q, %q) = %v, nameIs says %v", raw, list, got, want)
		}
	})
}

// FuzzAppendMillis: the ISO 8601 writer agrees with time's own formatting
// over the whole range Strip converts.
func FuzzAppendMillis(f *testing.F) {
	for _, ms := range []int64{0, 1, 999, 1000, 1740916800123, 951782400000, 4107542400000, 253402300799999} {
		f.Add(ms)
	}
	f.Fuzz(func(t *testing.T, ms int64) {
		if ms < 0 {
			ms = -(ms + 1)
		}
		ms %= 253402300799999 + 1
		want := time.UnixMilli(ms).UTC().AppendFormat(nil, "2006-01-02T15:04:05.000Z")
		if got := appendMillis(nil, ms); string(got) != string(want) {
			t.Fatalf("appendMillis(%d) = %s, want %s", ms, got, want)
		}
	})
}

// FuzzNameIsMatchesDecoding: the length shortcuts of nameIs answer what
// decoding the name answers.
func FuzzNameIsMatchesDecoding(f *testing.F) {
	for _, s := range []string{`event_\u0074ype`, `event_type`, `a\"`, `\\`, `t\u0073`, `\ud800`, `x\/y`, "\xff", ``} {
		f.Add(s, "event_type")
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, raw, want string) {
		if got, dec := nameIs([]byte(raw), want), nameIsDecoded([]byte(raw), want); got != dec {
			t.Fatalf("nameIs(%q, %q) = %v, decoding says %v", raw, want, got, dec)
		}
	})
}

func FuzzHasBackslash(f *testing.F) {
	f.Add([]byte(`abcdefgh\`))
	f.Add([]byte("\x80\xdc\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := hasBackslash(b), bytes.IndexByte(b, '\\') >= 0; got != want {
			t.Fatalf("hasBackslash(%q) = %v", b, got)
		}
	})
}

func TestPlainOnlyForTokensThatDecodeToThemselves(t *testing.T) {
	for raw, want := range map[string]bool{
		`"abc-123"`: true, `""`: true, `"a\"b"`: false, `"\u0041"`: false,
		`"é"`: false, "\"a\tb\"": false, `abc`: false, `"abc`: false, `"`: false,
	} {
		inner, ok := Plain([]byte(raw))
		if ok != want || ok && string(inner) != raw[1:len(raw)-1] {
			t.Errorf("Plain(%q) = %q, %v; want ok %v", raw, inner, ok, want)
		}
		if s, sok := String([]byte(raw)); ok && (!sok || s != string(inner)) {
			t.Errorf("String(%q) = %q, %v disagrees with Plain", raw, s, sok)
		}
	}
}
