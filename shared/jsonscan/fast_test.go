package jsonscan

import (
	"bytes"
	"strings"
	"testing"
)

// fastSeeds are inputs on which the fast path must agree with the general
// one, including the edits it makes and the inputs it gives up on.
var fastSeeds = []string{
	`{}`, `{"a":null}`, `{"a":null,"b":null}`, `{"a":1,"b":null}`, `{"a":null,"b":1,"c":null}`,
	`{"a":"","b":[null],"c":[null,1,null,2,null],"d":{"e":null,"f":{}}}`,
	`{"type":"x","a":1}`, `{"a":1,"type":{"b":null}}`, `{"t\u0079pe":1,"x":2}`,
	`{"ts":1740916800123,"id":"a"}`, `{"ts":0,"id":null}`, `{"ts":-5}`, `{"ts":[]}`, `{"ts":[0,null,-1]}`,
	`{"x":1,"ts":[1,0,null,"s",{"a":null},2]}`, `{"ts":[null,1740916800123]}`, `{"ts":1.5}`, `{"ts":123456789012345678901}`,
	`{"ts":253402300799999}`, `{"ts":253402300800000}`, `{"o":{"ts":5,"id":1}}`, `{"id":12345678901,"ts":[5]}`,
	`{"n":-2147483649,"m":2147483648,"k":2147483647,"f":1e5,"z":-0}`,
	`{"s":"C:\\Windows\\\"x\"","u":"\u00e9\ud83d\ude00","r":"é"}`, `{"bad":"\ud800"}`, `{"nul":"\u0000"}`,
	"{\"ctl\":\"a\x01b\"}", "{\"utf\":\"\xff\"}", `{ "a":1}`, `{"a" :1}`, `{"a":1 }`, `{"a":[1 ,2]}`,
	`{"a":tru}`, `{"a":nul}`, `{"a":[`, `{"a":"`, `{"a":1,}`, `{"a":[1,]}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`,
	`{"id":"x","id":"y"}`, `{"i\u0064":"x","ts":[0]}`, `{"ts":[[null]],"q":[{}]}`,
	`{"a":{"b":{"c":{"d":[[[[{"e":null}]]]]}}}}`, ` {"a":1}  x`,
	`{"ts":1740916800123,"o":{"ts":1740916800999},"p":{"ts":86399999},"q":{"ts":86400000},"r":{"ts":0},"s":{"ts":1740916800123}}`,
	`{"ts":[951782400000,951868799999,951868800000,4107542400000,253402300799999]}`,
	// Lists whose first element is a string, which the member loop walks
	// itself before the rest of the list.
	`{"l":["a"],"m":["a","b"],"n":["a",null,"b",null],"o":["",{"p":null}],"q":["a",["b"]]}`,
	`{"l":["a" ]}`, `{"l":["a",]}`, `{"l":["a"x]}`, `{"l":["a"`, `{"l":["a`, `{"l":["\u0000"]}`, "{\"l\":[\"a\x01\"]}",
	`{"ts":["a",1740916800123,0],"id":["x"]}`,
	strings.Repeat(`{"a":`, MaxDepth-1) + `["x"]` + strings.Repeat("}", MaxDepth-1),
	strings.Repeat(`{"a":`, MaxDepth) + `["x"]` + strings.Repeat("}", MaxDepth),
	strings.Repeat(`{"a":`, MaxDepth) + `["x","y"]` + strings.Repeat("}", MaxDepth),
}

func fastOpts() []*Options {
	return []*Options{
		{},
		{DropTopLevel: []string{"type", "wazuh_pull"}, EpochMillis: []string{"ts", "creation_time"}, UnsetEpochLists: true, Capture: [2]string{"id", "ts"}},
		{DropTopLevel: []string{"type"}, EpochMillis: []string{"ts"}, KeepBigInts: true, Capture: [2]string{"ts", "ts"}},
		{EpochMillis: []string{"ts"}, Capture: [2]string{"", "id"}},
	}
}

// checkFastAgrees holds Strip (fast path first) to stripSlow, the general
// path it falls back to: same output, length, result and error.
func checkFastAgrees(t *testing.T, in []byte) {
	for _, opts := range fastOpts() {
		prefix := []byte("pre")
		want, wn, wres, werr := stripSlow(append([]byte(nil), prefix...), in, opts)
		got, gn, gres, gerr := Strip(append([]byte(nil), prefix...), in, opts)
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Fatalf("Strip(%q, %+v) error %v, general path %v", in, opts, gerr, werr)
		}
		if !bytes.Equal(got, want) || gn != wn || gres != wres {
			t.Fatalf("Strip(%q, %+v)\n got %q %d %+v\nwant %q %d %+v", in, opts, got, gn, gres, want, wn, wres)
		}
	}
}

func TestFastPathAgreesWithGeneral(t *testing.T) {
	for _, s := range fastSeeds {
		checkFastAgrees(t, []byte(s))
	}
}

// TestFastPathTakesCompactInput makes sure the benchmarks measure the fast
// path: it must not give up on compact input it can handle.
func TestFastPathTakesCompactInput(t *testing.T) {
	opts := fastOpts()[1]
	for _, s := range []string{
		`{"a":null,"ts":[0,1],"id":"x","b":"","c":[null,"C:\\x"],"d":{"ts":0},"type":1,"n":12345678901}`,
		`{"u":"\u00e9é","x":true,"y":false,"z":-1.5e3}`,
	} {
		if _, _, _, ok := stripFast(nil, []byte(s), 0, opts, nil); !ok {
			t.Errorf("the fast path gave up on %s", s)
		}
	}
}

// FuzzStripFastMatchesGeneral compares the fast path with the general one
// on arbitrary input, under several option sets.
func FuzzStripFastMatchesGeneral(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(checkFastAgrees)
}

// checkStripperAgrees strips a sequence of objects with one Stripper, which
// remembers names from one to the next, and holds each result to the
// general path.
func checkStripperAgrees(t *testing.T, ins ...[]byte) {
	for _, opts := range fastOpts() {
		checkStripperAgreesUnder(t, opts, ins...)
	}
}

func checkStripperAgreesUnder(t *testing.T, opts *Options, ins ...[]byte) {
	var st Stripper
	for _, in := range ins {
		want, wn, wres, werr := stripSlow([]byte("pre"), in, opts)
		got, gn, gres, gerr := st.Strip([]byte("pre"), in, opts)
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
			t.Fatalf("Stripper.Strip(%q, %+v) error %v, general path %v", in, opts, gerr, werr)
		}
		if !bytes.Equal(got, want) || gn != wn || gres != wres {
			t.Fatalf("Stripper.Strip(%q, %+v) after %q\n got %q %d %+v\nwant %q %d %+v", in, opts, ins, got, gn, gres, want, wn, wres)
		}
	}
}

func TestStripperRemembersNamesSafely(t *testing.T) {
	checkStripperAgrees(t,
		[]byte(`{"id":"a","ts":1740916800123,"type":"x","n":null,"s":"v"}`),
		[]byte(`{"id":"b","ts":0,"type":{"a":null},"n":1,"s":""}`),
		[]byte(`{"id":"c","tsx":1,"type":"y"}`),            // a name that extends a remembered one
		[]byte(`{"id":"d","t\u0073":5,"ts":7,"n":2}`),      // an escaped name stops the memory
		[]byte(`{"ts":"e","id":5,"type":1,"n":2,"s":"t"}`), // another order
		[]byte(`{"id":"f"}`), []byte(`{"id":"g","ts":1}`), // fewer members
		[]byte(`{"id" :"h","ts":1}`), []byte(`{"id":"i","ts"`), // given up on, then truncated
	)
	// Runs of null members, matched whole.
	checkStripperAgrees(t,
		[]byte(`{"a":null,"b":null,"c":1,"d":null,"e":null,"f":null}`),
		[]byte(`{"a":null,"b":null,"c":null,"d":null,"e":null,"f":2}`),
		[]byte(`{"a":null,"b":null,"c":null,"d":null,"e":null,"f":null}`),
		[]byte(`{"a":null,"b":null,"c":null,"d":null,"e":null,"f":null,"g":3}`),
		[]byte(`{"x":1,"a":null,"b":null,"c":null,"d":null,"e":null,"f":null,"g":3}`),
		[]byte(`{"a":null,"b":null,"c":null,"d":null,"e":null,"f":null,"g":3}`),
		[]byte(`{"a":null,"b":null,"c":null,"d":null,"e":null,"f":null,"g":3}`),
		[]byte(`{"a":null,"b":null,"c":null,"d":null,"e":null,"f":null,"g":`),
		[]byte(`{"a":null,"b":null,"c":nul}`),
		[]byte(`{"type":null,"id":null,"ts":null,"q":1,"type":null,"id":null}`),
		[]byte(`{"type":null,"id":null,"ts":null,"q":1,"type":null,"id":null,"ts":0}`),
	)
	// Runs of members copied as they are, and of members dropped for
	// other reasons than null.
	checkStripperAgrees(t,
		[]byte(`{"a":1,"b":"x","c":[1],"d":{"e":2},"id":"q","f":true,"g":"","ts":0,"type":5,"h":1}`),
		[]byte(`{"a":1,"b":"x","c":[1],"d":{"e":2},"id":"q","f":true,"g":"","ts":0,"type":5,"h":2}`),
		[]byte(`{"a":1,"b":"x","c":[1],"d":{"e":2},"id":"r","f":true,"g":"","ts":0,"type":5,"h":2}`),
		[]byte(`{"g":"","ts":0,"a":1,"b":"x","c":[1],"d":{"e":2},"id":"r","f":true,"g":"","ts":0,"type":5,"h":2}`),
		[]byte(`{"a":1,"b":"x","c":[1,null],"d":{"e":2},"ts":[0],"f":true,"n":12345678901,"ts":[0,5],"h":2}`),
		[]byte(`{"a":1,"b":"x","c":[1,null],"d":{"e":2},"ts":[0],"f":true,"n":12345678901,"ts":[0,5],"h":2}`),
		[]byte(`{"a":1,"b":"x","c":[1,null],"d":{"e":2},"ts":[0],"f":true,"n":12345678901,"ts":[0,5],"h":2,}`),
	)
	// Two shapes in turn: runs of the object two back, where the one
	// before has other members (and other names) at the same places.
	checkStripperAgrees(t,
		[]byte(`{"a":null,"b":null,"fw":null,"fx":null,"c":1,"ts":1740916800123}`),
		[]byte(`{"a":null,"b":null,"fw":"v","fx":"w","c":null,"ts":1740830400000}`),
		[]byte(`{"a":null,"b":null,"fw":null,"fx":null,"c":2,"ts":1740916800999}`),
		[]byte(`{"a":null,"b":null,"fw":"v","fx":"w","c":null,"ts":1740830400001}`),
		[]byte(`{"p":null,"q":null,"r":null,"s":null,"c":3,"ts":[1740916800123,1740830400000]}`),
		[]byte(`{"a":null,"b":null,"fw":null,"fx":null,"c":4,"ts":0}`),
		[]byte(`{"p":null,"q":null,"r":null,"s":null,"c":null,"id":null}`),
		[]byte(`{"a":null,"b":null,"fw":null,"fx":null,"c":4,"ts":1}`),
		[]byte(`{"p":null,"q":null,"r":null,"s":null,"c":null,"id":null,"ts":-1}`),
		[]byte(`{"a":null,"b":null,"fw":null,"fx":null}`),
		[]byte(`{"p":null,"q":null,"r":null,"s":null,"c":null,"id":null,"ts":"x"}`),
		[]byte(`{"a":null,"b":null,"fw":null,"fx":null,"c":4,"ts":1`),
	)
	// The same Stripper under other options decides anew.
	var st Stripper
	a := &Options{EpochMillis: []string{"ts"}}
	b := &Options{DropTopLevel: []string{"ts"}}
	in := []byte(`{"ts":1740916800123}`)
	st.Strip(nil, in, a)
	if got, _, _, _ := st.Strip(nil, in, b); string(got) != `{}` {
		t.Fatalf("after other options, Strip gives %s", got)
	}
	b.DropTopLevel[0] = "x" // options changed in place
	if got, _, _, _ := st.Strip(nil, in, b); string(got) != `{"ts":"1740916800123"}` {
		t.Fatalf("after options changed in place, Strip gives %s", got)
	}
}

// TestStripperComparesNamesAsWords covers the masked compare of remembered
// names: names of every length around its words, longer than it covers,
// near the end of the input, and names that differ in one byte only.
func TestStripperComparesNamesAsWords(t *testing.T) {
	for n := 1; n <= memoWords*8+10; n++ {
		// name and other differ in their last byte only, and decide
		// differently: a name taken for the other shows.
		name := strings.Repeat("n", n)
		other := name[:n-1] + "m"
		objs := [][]byte{
			[]byte(`{"` + name + `":1740916800123,"` + other + `":1,"l":["x"],"ts":1740916800123}`),
			[]byte(`{"` + name + `":1740916800124,"` + other + `":null,"l":["x","y"],"ts":0}`),
			[]byte(`{"` + other + `":1740916800125,"` + name + `":2,"l":[null],"ts":[1]}`),
			[]byte(`{"` + name + `":"c","` + name + `x":3}`),
			[]byte(`{"` + name + `":"c"}`),
			[]byte(`{"` + name + `"`),
		}
		checkStripperAgrees(t, objs...)
		checkStripperAgreesUnder(t, &Options{EpochMillis: []string{name}, Capture: [2]string{other, "l"}}, objs...)
		checkStripperAgreesUnder(t, &Options{DropTopLevel: []string{other}, Capture: [2]string{name, ""}}, objs...)
	}
}

// FuzzStripperMatchesGeneral: a Stripper, whatever it remembers from the
// object before, strips as the general path does.
func FuzzStripperMatchesGeneral(f *testing.F) {
	for i, s := range fastSeeds {
		f.Add([]byte(s), []byte(fastSeeds[(i+1)%len(fastSeeds)]), []byte(s))
	}
	f.Add([]byte(`{"a":null,"b":null,"c":1,"d":null}`), []byte(`{"a":null,"b":null,"c":null,"d":null}`), []byte(`{"a":null,"b":null,"c":1,"d":null,"e":0}`))
	f.Add([]byte(`{"id":"a","ts":1,"type":2,"z":null}`), []byte(`{"id":"a","ts":1,"type":2,"z":3}`), []byte(`{"id":"a","ts":[1],"type":null}`))
	long := strings.Repeat("causality_actor_", 3)
	f.Add([]byte(`{"`+long+`":["a"],"x":null,"y":null}`), []byte(`{"`+long+`":["a","b"],"x":null,"y":null}`), []byte(`{"`+long+`x":["a"]}`))
	f.Fuzz(func(t *testing.T, a, b, c []byte) { checkStripperAgrees(t, a, b, c) })
}

func FuzzSameBytes(f *testing.F) {
	f.Add([]byte("abcdefgh"), []byte("abcdefgh"))
	f.Add([]byte(`"causality_actor_process_image_name":`), []byte(`"causality_actor_process_image_path":`))
	f.Add([]byte("0123456789abcdefX"), []byte("0123456789abcdefY"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if n := min(len(a), len(b)); sameBytes(a[:n], b[:n]) != bytes.Equal(a[:n], b[:n]) {
			t.Fatalf("sameBytes(%q, %q) = %v", a[:n], b[:n], !bytes.Equal(a[:n], b[:n]))
		}
		if len(a) != len(b) && sameBytes(a, b) {
			t.Fatalf("sameBytes(%q, %q) of different lengths", a, b)
		}
	})
}

// FuzzSkipFastMatchesGeneral holds Skip (fast path first) to its general
// path: same length, same error.
func FuzzSkipFastMatchesGeneral(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{` [ 1 , {"a" : "b\u00e9"} ] `, "\"\x01\xff\"", `"\ud800\udc00"`, `"\x"`, `{"a":1`, `[`, ``, ` `, `tru`, `-`, `[1,2]x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		wn, werr := skipSlow(in)
		gn, gerr := Skip(in)
		if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() || werr == nil && gn != wn {
			t.Fatalf("Skip(%q) = %d, %v; general path %d, %v", in, gn, gerr, wn, werr)
		}
	})
}

func TestSkipFastPathAgrees(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + "1" + strings.Repeat("]", MaxDepth)
	deeper := strings.Repeat("[", MaxDepth+1) + "1" + strings.Repeat("]", MaxDepth+1)
	for _, s := range append(fastSeeds, deep, deeper, ` {"a" : [ 1 , 2 ] } `, "\"a\x00\"") {
		wn, werr := skipSlow([]byte(s))
		gn, gerr := Skip([]byte(s))
		if (werr == nil) != (gerr == nil) || werr == nil && gn != wn {
			t.Errorf("Skip(%q) = %d, %v; general path %d, %v", s, gn, gerr, wn, werr)
		}
	}
}
