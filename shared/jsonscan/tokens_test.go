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
		// Scanned again by one scanner, the second time with its names
		// numbered and predicted: the same answer, and one number is one
		// name.
		var ts TokenScanner
		names := map[uint16]string{}
		for round := range 2 {
			var again []scanned
			n, err := ts.ScanTokens(in, opts, func(e []byte, c Class, toks []Token) error {
				c.Holes = append([]Hole(nil), c.Holes...)
				again = append(again, scanned{elem: string(e), class: c, toks: append([]Token(nil), toks...)})
				for _, tk := range toks {
					if tk.Name == 0 {
						continue
					}
					name := string(e[tk.Start:tk.End])
					if seen, ok := names[tk.Name]; ok && seen != name {
						t.Fatalf("number %d is %q and %q", tk.Name, seen, name)
					}
					names[tk.Name] = name
				}
				return nil
			})
			if n != tokN || fmt.Sprint(err) != fmt.Sprint(tokErr) || !reflect.DeepEqual(stripNames(again), stripNames(tok)) {
				t.Fatalf("round %d: %d %v, first scan %d %v", round, n, err, tokN, tokErr)
			}
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

// Names are numbered by their bytes, whatever the order they come in:
// the same number is the same bytes, and a name met again (predicted or
// not) keeps its number.
func TestScanTokensNumbersNames(t *testing.T) {
	var ts TokenScanner
	numbers := map[string]uint16{}
	pages := []string{
		`[{"a":1,"bb":{"a":2,"ccccccccccccccccccccccccc":3},"d\u0065":4},{"bb":{},"a":1}]`,
		`[{"a":1,"xx":2,"bb":[{"a":5}]},{"e\u0000":1,"f` + "\x01" + `":2,"":3}]`,
	}
	for _, page := range pages {
		_, err := ts.ScanTokens([]byte(page), nil, func(elem []byte, c Class, toks []Token) error {
			for _, tk := range toks {
				name := string(elem[tk.Start:tk.End])
				switch {
				case tk.Kind != KindName && tk.Name != 0:
					t.Fatalf("%s: a %d token numbered", name, tk.Kind)
				case tk.Kind != KindName:
				case tk.Escaped || bytes.ContainsAny([]byte(name), "\x00\x01"):
					if tk.Name != 0 {
						t.Fatalf("%q numbered %d", name, tk.Name)
					}
				case tk.Name == 0:
					t.Fatalf("%q not numbered", name)
				case numbers[name] == 0:
					for other, n := range numbers {
						if n == tk.Name {
							t.Fatalf("%q and %q both numbered %d", name, other, n)
						}
					}
					numbers[name] = tk.Name
				case numbers[name] != tk.Name:
					t.Fatalf("%q numbered %d, then %d", name, numbers[name], tk.Name)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(numbers) != 5 {
		t.Fatalf("numbered %v", numbers)
	}
}

// stripNames is elements with their tokens' name numbers left out (a
// first scan numbers names that a fresh scanner has not seen).
func stripNames(els []scanned) []scanned {
	out := make([]scanned, len(els))
	for i, e := range els {
		out[i] = e
		out[i].toks = nil
		for _, tk := range e.toks {
			tk.Name = 0
			out[i].toks = append(out[i].toks, tk)
		}
	}
	return out
}
