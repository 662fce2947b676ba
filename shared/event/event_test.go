package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

func newBuilder(t testing.TB, maxLine int) *Builder {
	t.Helper()
	b, err := NewBuilder(Config{
		Envelope: Envelope{Integration: "1password", Namespace: "op"},
		Meta:     Meta{Tenant: "default", Stream: "signin", RunID: "run-1"},
		MaxLine:  maxLine,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeLine(t testing.TB, line []byte) map[string]any {
	t.Helper()
	if len(line) == 0 || line[len(line)-1] != '\n' {
		t.Fatalf("line does not end with a newline: %q", line)
	}
	if bytes.Count(line, []byte{'\n'}) != 1 {
		t.Fatalf("line contains a raw newline: %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("line is not JSON: %v\n%s", err, line)
	}
	return m
}

func TestEnvelopeMatchesSeed(t *testing.T) {
	b := newBuilder(t, 59_999)
	raw := `{"uuid":"HG3F","session_uuid":"UED4","timestamp":"2025-03-02T07:44:03Z","country":"NL","category":"firewall_failed","type":"country_blocked","details":null,"target_user":{"uuid":"OJQG","name":"","email":"sam@example.org"},"client":{},"location":{"country":"Netherlands","latitude":52.37}}`
	line, info, err := b.Append(nil, []byte(raw), "signin_attempt", "HG3F")
	if err != nil {
		t.Fatal(err)
	}
	if info.Reduced {
		t.Fatal("small event was reduced")
	}
	want := `{"integration":"1password","op":{"uuid":"HG3F","session_uuid":"UED4","timestamp":"2025-03-02T07:44:03Z","country":"NL","category":"firewall_failed","type":"country_blocked","target_user":{"uuid":"OJQG","email":"sam@example.org"},"client":{},"location":{"country":"Netherlands","latitude":52.37},"event_type":"signin_attempt","wazuh_pull":{"tenant":"default","stream":"signin","run_id":"run-1","dedup_key":"HG3F"}}}` + "\n"
	if string(line) != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}
}

func TestVendorEventTypeIsReplaced(t *testing.T) {
	b := newBuilder(t, 59_999)
	line, _, err := b.Append(nil, []byte(`{"event_type":"spoof","wazuh_pull":{"tenant":"evil"},"a":1}`), "audit_event", "k")
	if err != nil {
		t.Fatal(err)
	}
	m := decodeLine(t, line)["op"].(map[string]any)
	if m["event_type"] != "audit_event" || m["wazuh_pull"].(map[string]any)["tenant"] != "default" {
		t.Fatalf("envelope fields not ours: %s", line)
	}
	if bytes.Count(line, []byte(`"event_type"`)) != 1 {
		t.Fatalf("duplicate event_type: %s", line)
	}
}

// A vendor member whose name only decodes to one of ours ("event_\u0074ype",
// "wazuh_pul\u006c") is dropped like the plain one, on the copy path and on
// the rebuilding path: Wazuh decodes names, and would see two.
func TestEscapedEnvelopeNamesAreReplaced(t *testing.T) {
	for _, env := range []Envelope{{Integration: "1password", Namespace: "op"}, {Integration: "cortex_xdr", Namespace: "xdr", TypeKey: "type"}} {
		b, err := NewBuilder(Config{Envelope: env, Meta: Meta{Tenant: "default", Stream: "s", RunID: "r"}, MaxLine: 59_999})
		if err != nil {
			t.Fatal(err)
		}
		typ := env.Type()
		escaped := typ[:len(typ)-1] + fmt.Sprintf(`\u%04x`, typ[len(typ)-1])
		for _, raw := range []string{
			`{"` + escaped + `":"run_summary","wazuh_pul\u006c":{"tenant":"evil"},"a":1}`,
			`{"` + escaped + `":"run_summary","wazuh_pul\u006c":{"tenant":"evil"},"a":1,"n":null}`,
		} {
			opts := b.opts
			var class jsonscan.Class
			jsonscan.ScanArray([]byte("["+raw+"]"), &opts, func(_ []byte, c jsonscan.Class) error { class = c; return nil })
			for path, line := range map[string][]byte{"append": must(b.Append(nil, []byte(raw), "audit_event", "k")), "classified": must(b.AppendClassified(nil, []byte(raw), class, "audit_event", "k"))} {
				ns := namespaceNames(t, line, env.Namespace)
				if ns[typ] != 1 || ns[MetaKey] != 1 || ns["a"] != 1 {
					t.Fatalf("%s %s: names %v in %s", env.Namespace, path, ns, line)
				}
				m := decodeLine(t, line)[env.Namespace].(map[string]any)
				if m[typ] != "audit_event" || m[MetaKey].(map[string]any)["tenant"] != "default" {
					t.Fatalf("%s %s: envelope fields not ours: %s", env.Namespace, path, line)
				}
			}
		}
	}
}

// NUL in our own metadata (a tenant name) becomes U+FFFD like in vendor text.
func TestNULInMetadataIsReplaced(t *testing.T) {
	b, err := NewBuilder(Config{Envelope: Envelope{Integration: "1password", Namespace: "op"}, Meta: Meta{Tenant: "a\x00b", Stream: "s", RunID: "r"}, MaxLine: 59_999})
	if err != nil {
		t.Fatal(err)
	}
	line := must(b.Append(nil, []byte(`{"a":"x\u0000y"}`), "audit_event", "k\x00"))
	if !bytes.Contains(line, []byte(`"tenant":"a\ufffdb"`)) || !bytes.Contains(line, []byte(`"a":"x\ufffdy"`)) || !bytes.Contains(line, []byte(`"dedup_key":"k\ufffd"`)) || bytes.Contains(line, []byte(`\u0000`)) {
		t.Fatalf("NUL kept: %s", line)
	}
}

func must(line []byte, _ Info, err error) []byte {
	if err != nil {
		panic(err)
	}
	return line
}

// namespaceNames counts the decoded member names of the namespace object,
// duplicates included (a map would hide them).
func namespaceNames(t testing.TB, line []byte, ns string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	_, err := jsonscan.Members(line, func(name, value []byte) error {
		if !jsonscan.Name(name, ns) {
			return nil
		}
		_, err := jsonscan.Members(value, func(name, _ []byte) error {
			n, ok := jsonscan.String(name)
			if !ok {
				return fmt.Errorf("bad name %s", name)
			}
			counts[n]++
			return nil
		})
		return err
	})
	if err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	return counts
}

func TestAppendFieldsErrorEvent(t *testing.T) {
	b := newBuilder(t, 59_999)
	line, _, err := b.AppendFields(nil, Fields{
		{"source", "signin"}, {"error_code", "API_HTTP_429"}, {"error_message", "rate limited"},
		{"timestamp", "2026-11-27T09:00:00Z"}, {"error_detail", ""},
	}, TypeError, "err-1")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"integration":"1password","op":{"source":"signin","error_code":"API_HTTP_429","error_message":"rate limited","timestamp":"2026-11-27T09:00:00Z","event_type":"error","wazuh_pull":{"tenant":"default","stream":"signin","run_id":"run-1","dedup_key":"err-1"}}}` + "\n"
	if string(line) != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}
}

func TestRejectsNonObjects(t *testing.T) {
	b := newBuilder(t, 59_999)
	for _, raw := range []string{`[]`, `"x"`, `{"a":`, `{"a":1} {"b":2}`} {
		dst := []byte("keep")
		out, _, err := b.Append(dst, []byte(raw), "x", "k")
		if err == nil {
			t.Errorf("Append(%s) accepted it", raw)
		}
		if string(out) != "keep" {
			t.Errorf("Append(%s) changed dst on error: %q", raw, out)
		}
	}
}

func TestOversizedEventIsReducedNotDropped(t *testing.T) {
	b := newBuilder(t, 59_999)
	big := strings.Repeat("A", 70_000)
	raw := fmt.Sprintf(`{"uuid":"U1","aux_info":%q,"details":{"value":%q},"small":"keep me"}`, big, big[:30_000])
	line, info, err := b.Append(nil, []byte(raw), "audit_event", "U1")
	if err != nil {
		t.Fatal(err)
	}
	if !info.Reduced || info.Bytes > 59_999 || len(line)-1 != info.Bytes {
		t.Fatalf("info = %+v, line %d bytes", info, len(line))
	}
	op := decodeLine(t, line)["op"].(map[string]any)
	if op["uuid"] != "U1" || op["small"] != "keep me" {
		t.Fatalf("small fields lost: %v", op["small"])
	}
	if !strings.HasSuffix(op["aux_info"].(string), truncSuffix) {
		t.Fatalf("aux_info not marked as truncated")
	}
	red := op["wazuh_pull"].(map[string]any)["reduced"].(map[string]any)
	tr := red["truncated"].([]any)
	if len(tr) != 2 || tr[0] != "op.aux_info" || tr[1] != "op.details.value" {
		t.Fatalf("truncated = %v", tr)
	}
	if red["original_bytes"].(float64) <= 100_000 {
		t.Fatalf("original_bytes = %v", red["original_bytes"])
	}
	// Deterministic.
	again, _, _ := b.Append(nil, []byte(raw), "audit_event", "U1")
	if !bytes.Equal(line, again) {
		t.Fatal("reduction is not deterministic")
	}
}

func TestExactFitIsNotReduced(t *testing.T) {
	b := newBuilder(t, 2000)
	base, _, _ := b.Append(nil, []byte(`{"a":""}`), "t", "k")
	// Grow one string so that the line is exactly 2000 bytes, then one more.
	pad := 2000 - (len(base) - 1) - len(`"a":"",`)
	raw := fmt.Sprintf(`{"a":%q}`, strings.Repeat("x", pad))
	line, info, err := b.Append(nil, []byte(raw), "t", "k")
	if err != nil || info.Bytes != 2000 || info.Reduced || len(line) != 2001 {
		t.Fatalf("exact fit: %d bytes (line %d), reduced=%v, %v", info.Bytes, len(line), info.Reduced, err)
	}
	if op := decodeLine(t, line)["op"].(map[string]any); op["a"] != strings.Repeat("x", pad) || op["wazuh_pull"].(map[string]any)["reduced"] != nil {
		t.Fatalf("an exact fit must be kept whole and unmarked: %s", line)
	}
	raw = fmt.Sprintf(`{"a":%q}`, strings.Repeat("x", pad+1))
	line, info, err = b.Append(nil, []byte(raw), "t", "k")
	if err != nil || !info.Reduced || info.Bytes > 2000 {
		t.Fatalf("one byte more: %d bytes, reduced=%v", info.Bytes, info.Reduced)
	}
	decodeLine(t, line)
}

// wazuhFields counts fields the way Wazuh's JSON_Decoder does
// (json_decoder.c readJSON): one per scalar, one per non-empty array,
// recursion into objects.
func wazuhFields(v any) int {
	switch x := v.(type) {
	case map[string]any:
		n := 0
		for _, e := range x {
			n += wazuhFields(e)
		}
		return n
	case []any:
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
			default:
				return 1
			}
		}
		return 0
	}
	return 1
}

func TestTooManyFieldsAreFolded(t *testing.T) {
	b := newBuilder(t, 59_999)
	var sb strings.Builder
	sb.WriteString(`{"uuid":"U","host":{`)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&sb, `"h%03d":%d,`, i, i)
	}
	sb.WriteString(`"last":1},"user":{`)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&sb, `"u%03d":"v",`, i)
	}
	sb.WriteString(`"last":1}}`)
	line, info, err := b.Append(nil, []byte(sb.String()), "alert", "U")
	if err != nil {
		t.Fatal(err)
	}
	m := decodeLine(t, line)
	if n := wazuhFields(m); n > MaxFields || !info.Reduced {
		t.Fatalf("%d fields, reduced=%v", n, info.Reduced)
	}
	op := m["op"].(map[string]any)
	if _, ok := op["host"].(string); !ok {
		t.Fatalf("largest object was not folded into a string")
	}
	if _, ok := op["user"].(map[string]any); !ok {
		t.Fatalf("smaller object was folded needlessly")
	}
}

func FuzzAppend(f *testing.F) {
	f.Add([]byte(`{"uuid":"x","a":null,"b":"","c":{"d":[1,null,""]}}`), uint16(2000))
	f.Add([]byte(`{"a":"`+strings.Repeat("é\\n", 120)+`"}`), uint16(1500))
	f.Add([]byte(`{"creation_time":1740916800123,"n":12345678901}`), uint16(1024))
	f.Add([]byte(`{"event_\u0074ype":"run_summary","wazuh_pul\u006c":1,"k\u0000":"v\u0000","s":"\ud800"}`), uint16(1024))
	f.Add([]byte("{\"\xff\":\"\x00\",\"creation_\\u0074ime\":1}"), uint16(1024))
	f.Fuzz(func(t *testing.T, raw []byte, max uint16) {
		maxLine := int(max)%8000 + minLine
		b, err := NewBuilder(Config{
			Envelope:    Envelope{Integration: "cortex_xdr", Namespace: "xdr"},
			Meta:        Meta{Tenant: "t", Stream: "s", RunID: "r"},
			MaxLine:     maxLine,
			MaxFields:   40,
			EpochMillis: []string{"creation_time"},
		})
		if err != nil {
			t.Fatal(err)
		}
		line, info, err := b.Append(nil, raw, "alert", "key")
		if err != nil {
			return
		}
		if len(line)-1 > maxLine || info.Bytes != len(line)-1 {
			t.Fatalf("line of %d bytes exceeds %d", len(line)-1, maxLine)
		}
		m := decodeLine(t, line)
		if n := wazuhFields(m); n > 40 {
			t.Fatalf("%d fields > 40: %s", n, line)
		}
		again, _, _ := b.Append(nil, raw, "alert", "key")
		if !bytes.Equal(line, again) {
			t.Fatal("not deterministic")
		}
		op, _ := m["xdr"].(map[string]any)
		if op["event_type"] != "alert" {
			t.Fatalf("event_type missing: %s", line)
		}
		if names := namespaceNames(t, line, "xdr"); names["event_type"] != 1 || names[MetaKey] != 1 {
			t.Fatalf("envelope names duplicated: %v in %s", names, line)
		}
		if bytes.Contains(line, []byte{0}) || strings.Contains(fmt.Sprint(m), "\x00") {
			t.Fatalf("NUL in the line: %q", line)
		}
	})
}

func TestEnvelopeTypeKey(t *testing.T) {
	b, err := NewBuilder(Config{
		Envelope: Envelope{Integration: "cortex_xdr", Namespace: "xdr", TypeKey: "type"},
		Meta:     Meta{Tenant: "default", Stream: "alerts", RunID: "run-1"},
		MaxLine:  59_999,
	})
	if err != nil {
		t.Fatal(err)
	}
	// A vendor "type" member would clash with ours: it is replaced, on the
	// copy path and on the rebuilding path alike.
	for _, raw := range []string{`{"alert_id":"7","type":"vendor"}`, `{"alert_id":"7","type":"vendor","x":null}`} {
		line, _, err := b.Append(nil, []byte(raw), "alert", "7")
		if err != nil {
			t.Fatal(err)
		}
		m := decodeLine(t, line)
		xdr := m["xdr"].(map[string]any)
		if xdr["type"] != "alert" || xdr["event_type"] != nil || xdr["alert_id"] != "7" {
			t.Errorf("%s: got %s", raw, line)
		}
		if bytes.Count(line, []byte(`"type"`)) != 1 {
			t.Errorf("%s: duplicate type member: %s", raw, line)
		}
	}
}

func TestEnvelopeUnsetEpochLists(t *testing.T) {
	env := Envelope{Integration: "cortex_xdr", Namespace: "xdr", TypeKey: "type", UnsetEpochLists: true}
	b, err := NewBuilder(Config{Envelope: env, Meta: Meta{Tenant: "t", Stream: "alerts", RunID: "r"}, MaxLine: 59_999, EpochMillis: []string{"event_timestamp", "last_modified_ts"}})
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte(`{"alert_id":"7","event_timestamp":[1740916794500,0],"last_modified_ts":0}`)
	opts := env.ScanOptions([]string{"event_timestamp", "last_modified_ts"})
	var class jsonscan.Class
	jsonscan.ScanArray(append(append([]byte{'['}, raw...), ']'), &opts, func(_ []byte, c jsonscan.Class) error { class = c; return nil })
	line, _, err := b.AppendClassified(nil, raw, class, "alert", "7")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"integration":"cortex_xdr","xdr":{"alert_id":"7","event_timestamp":["2025-03-02T11:59:54.500Z"],"type":"alert","wazuh_pull":{"tenant":"t","stream":"alerts","run_id":"r","dedup_key":"7"}}}` + "\n"
	if string(line) != want {
		t.Fatalf("got  %s\nwant %s", line, want)
	}
}
