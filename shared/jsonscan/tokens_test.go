package jsonscan

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// scanned is what a scan reported about one element.
type scanned struct {
	elem  string
	class Class
	toks  []Token
}

func scanBoth(in []byte, opts *Options) (old, tok []scanned, oldN, tokN int, oldErr, tokErr error) {
	var a ArrayScanner
	oldN, oldErr = a.Scan(in, opts, func(e []byte, c Class) error {
		c.Holes = append([]Hole(nil), c.Holes...)
		old = append(old, scanned{elem: string(e), class: c})
		return nil
	})
	var ts TokenScanner
	tokN, tokErr = ts.ScanTokens(in, opts, func(e []byte, c Class, toks []Token) error {
		c.Holes = append([]Hole(nil), c.Holes...)
		tok = append(tok, scanned{elem: string(e), class: c, toks: append([]Token(nil), toks...)})
		return nil
	})
	return
}

func TestScanTokensLocatesEveryToken(t *testing.T) {
	in := `[{"a":"x","B\"":[1,-2.5e3,true,false,null],"c":{},"d":[],"e":{"f":"\u00e9"}} , "s"]`
	_, got, _, n, _, err := scanBoth([]byte(in), nil)
	if err != nil || n != len(in) || len(got) != 2 {
		t.Fatalf("%d elements, %d of %d bytes: %v", len(got), n, len(in), err)
	}
	var kinds []Kind
	var texts []string
	for _, tk := range got[0].toks {
		kinds = append(kinds, tk.Kind)
		text := got[0].elem[tk.Start:tk.End]
		if tk.Escaped {
			text += "\\"
		}
		texts = append(texts, text)
	}
	wantKinds := []Kind{KindObject, KindName, KindString, KindName, KindArray, KindNumber, KindNumber, KindTrue, KindFalse, KindNull, KindArrayEnd,
		KindName, KindObject, KindObjectEnd, KindName, KindArray, KindArrayEnd, KindName, KindObject, KindName, KindString, KindObjectEnd, KindObjectEnd}
	wantTexts := []string{`{`, `"a"`, `"x"`, `"B\""\`, `[`, `1`, `-2.5e3`, `true`, `false`, `null`, `]`,
		`"c"`, `{`, `}`, `"d"`, `[`, `]`, `"e"`, `{`, `"f"`, `"\u00e9"\`, `}`, `}`}
	if !reflect.DeepEqual(kinds, wantKinds) || !reflect.DeepEqual(texts, wantTexts) {
		t.Fatalf("tokens\n%v %q\nwant\n%v %q", kinds, texts, wantKinds, wantTexts)
	}
	if s := got[1]; len(s.toks) != 1 || s.toks[0] != (Token{Start: 0, End: 3, Kind: KindString}) {
		t.Fatalf("string element: %+v", s.toks)
	}
}

// FuzzScanTokensAgreesWithScan: ScanTokens is ArrayScanner.Scan (same
// elements, classes, holes, errors and offsets), and its tokens are the
// element's tokens: in order, covering every byte but whitespace, ':'
// and ',', each what its kind says.
func FuzzScanTokensAgreesWithScan(f *testing.F) {
	f.Add([]byte(`[{"a":1},"x",[2,{"b":"]"}],null,{"n":null,"e":"","ts":5}]`), false)
	f.Add([]byte(`[ ]`), true)
	f.Add([]byte(`[{"event_type":1,"k":[1,[2,null]]},{"big":12345678901}]`), false)
	f.Add([]byte(`[{"event_\u0074ype":"x"},{"\u0074s":1},{"a\u0000":"b"},{"s":"\ud800"},{"s":"\ud83d\ude00\ufffd"}]`), true)
	f.Add([]byte("[{\"k\x00\":1},{\"\xff\":\"\x00\"}]"), false)
	f.Add([]byte(`[{"a":null,"b":"","c":1,"d":null,"e":{"f":null},"g":{"h":"","i":[null]},"j":""},{"k":null}]`), false)
	f.Add([]byte(`[{"a" : [ 1 , {"b":"c\\"} ] } , {"x":tru}]`), true)
	f.Add([]byte(`[{"ts":[1,0,-1,null]},{"ts":[0]}]`), true)
	f.Fuzz(func(t *testing.T, in []byte, unset bool) {
		opts := &Options{DropTopLevel: []string{"event_type"}, EpochMillis: []string{"ts"}, UnsetEpochLists: unset}
		old, tok, oldN, tokN, oldErr, tokErr := scanBoth(in, opts)
		if oldN != tokN || fmt.Sprint(oldErr) != fmt.Sprint(tokErr) {
			t.Fatalf("Scan: %d %v; ScanTokens: %d %v", oldN, oldErr, tokN, tokErr)
		}
		if len(old) != len(tok) {
			t.Fatalf("Scan: %d elements, ScanTokens %d", len(old), len(tok))
		}
		for i := range old {
			o, g := old[i], tok[i]
			if o.elem != g.elem || !reflect.DeepEqual(o.class, g.class) {
				t.Fatalf("element %d: Scan %q %+v, ScanTokens %q %+v", i, o.elem, o.class, g.elem, g.class)
			}
			checkTokens(t, []byte(g.elem), g.toks)
		}
	})
}

// checkTokens checks that toks are the tokens of elem, a valid JSON
// value.
func checkTokens(t *testing.T, elem []byte, toks []Token) {
	t.Helper()
	at := 0
	var open []Kind
	for i, tk := range toks {
		if int(tk.Start) < at || tk.End <= tk.Start || int(tk.End) > len(elem) {
			t.Fatalf("%q: token %d %+v out of place (after %d)", elem, i, tk, at)
		}
		for _, c := range elem[at:tk.Start] {
			if !bytes.ContainsRune([]byte(" \t\r\n:,"), rune(c)) {
				t.Fatalf("%q: token %d %+v skips %q", elem, i, tk, elem[at:tk.Start])
			}
		}
		text := elem[tk.Start:tk.End]
		at = int(tk.End)
		switch tk.Kind {
		case KindObject, KindArray:
			open = append(open, tk.Kind)
			if want := map[Kind]string{KindObject: "{", KindArray: "["}[tk.Kind]; string(text) != want {
				t.Fatalf("%q: token %d %+v is %q", elem, i, tk, text)
			}
		case KindObjectEnd, KindArrayEnd:
			want := map[Kind]Kind{KindObjectEnd: KindObject, KindArrayEnd: KindArray}[tk.Kind]
			if len(open) == 0 || open[len(open)-1] != want || string(text) != map[Kind]string{KindObjectEnd: "}", KindArrayEnd: "]"}[tk.Kind] {
				t.Fatalf("%q: token %d %+v closes nothing open", elem, i, tk)
			}
			open = open[:len(open)-1]
		case KindName, KindString:
			if text[0] != '"' || text[len(text)-1] != '"' || len(text) < 2 || tk.Escaped != bytes.Contains(text, []byte(`\`)) {
				t.Fatalf("%q: token %d %+v is %q", elem, i, tk, text)
			}
			if m, err := Skip(text); err != nil || m != len(text) {
				t.Fatalf("%q: token %d %q is not a string", elem, i, text)
			}
			if tk.Kind == KindName && (len(open) == 0 || open[len(open)-1] != KindObject || at >= len(elem)) {
				t.Fatalf("%q: name %d outside an object", elem, i)
			}
		case KindNumber:
			if m, err := Skip(text); err != nil || m != len(text) || !(text[0] == '-' || text[0] >= '0' && text[0] <= '9') {
				t.Fatalf("%q: token %d %q is not a number", elem, i, text)
			}
		case KindTrue, KindFalse, KindNull:
			if want := map[Kind]string{KindTrue: "true", KindFalse: "false", KindNull: "null"}[tk.Kind]; string(text) != want {
				t.Fatalf("%q: token %d %+v is %q", elem, i, tk, text)
			}
		default:
			t.Fatalf("%q: token %d has kind %d", elem, i, tk.Kind)
		}
		if tk.Escaped && tk.Kind != KindName && tk.Kind != KindString {
			t.Fatalf("%q: token %d %+v escaped", elem, i, tk)
		}
	}
	if at != len(elem) || len(open) != 0 {
		t.Fatalf("%q: tokens end at %d, %d left open", elem, at, len(open))
	}
}
