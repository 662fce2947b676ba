package event

import (
	"fmt"
	"strings"
	"testing"
)

// An event too long even with every string cut to nothing (many members
// with long names and numeric values: neither names nor numbers can be
// cut) reaches the last step: whole top-level members are dropped, the
// largest first (ties by name), until the line fits. The line stays valid,
// the members kept are intact, the marker lists what was dropped, and the
// result is deterministic.
func TestReductionDropsTheLargestMembersWhenCuttingStringsIsNotEnough(t *testing.T) {
	const maxLine = 4000
	b := newBuilder(t, maxLine)
	var members []string
	// 40 members of about 190 bytes: about 7 600 bytes of numbers.
	for i := range 40 {
		members = append(members, fmt.Sprintf(`"n%02d_%s":%d`, i, strings.Repeat("k", 170), 1000000+i))
	}
	// Larger ones that must go first: a big name, and a string whose cut
	// alone would not make room.
	members = append(members, fmt.Sprintf(`"big_%s":1`, strings.Repeat("b", 900)))
	members = append(members, fmt.Sprintf(`"text":%q`, strings.Repeat("t", 500)))
	members = append(members, `"uuid":"U-drop"`)
	raw := "{" + strings.Join(members, ",") + "}"

	line, info, err := b.Append(nil, []byte(raw), "audit_event", "U-drop")
	if err != nil {
		t.Fatal(err)
	}
	if !info.Reduced || info.Bytes > maxLine || len(line)-1 != info.Bytes {
		t.Fatalf("info = %+v, line %d bytes; want a reduced line within %d", info, len(line), maxLine)
	}
	op := decodeLine(t, line)["op"].(map[string]any)
	red := op["wazuh_pull"].(map[string]any)["reduced"].(map[string]any)
	dropped := red["dropped"].([]any)
	if len(dropped) == 0 || dropped[0] != "op.big_"+strings.Repeat("b", 900)[:maxPathLen-len("op.big_")] {
		t.Fatalf("dropped = %v; the largest member (big_…) must go first", dropped)
	}
	if _, kept := op["big_"+strings.Repeat("b", 900)]; kept {
		t.Fatal("the largest member was kept")
	}
	// Strings stay cut as step 2 left them (to nothing, since no cap was
	// enough); the dedup key still names the event.
	if op["uuid"] != truncSuffix || op["text"] != truncSuffix || op["event_type"] != "audit_event" || op["wazuh_pull"].(map[string]any)["dedup_key"] != "U-drop" {
		t.Fatalf("strings and envelope after the last step: uuid %q, text %q, %v", op["uuid"], op["text"], op["wazuh_pull"])
	}
	if tr := fmt.Sprint(red["truncated"]); tr != "[op.text op.uuid]" {
		t.Fatalf("truncated = %s", tr)
	}
	// Every numeric member either survived with its value or is listed
	// (the list shows the first few paths, then "and N more").
	kept, listed := 0, 0
	for i := range 40 {
		name := fmt.Sprintf("n%02d_%s", i, strings.Repeat("k", 170))
		if v, ok := op[name]; ok {
			if v != float64(1000000+i) {
				t.Fatalf("%s changed to %v", name[:4], v)
			}
			kept++
		}
	}
	for _, d := range dropped {
		s := d.(string)
		if strings.HasPrefix(s, "op.n") {
			listed++
		}
		if strings.HasPrefix(s, "and ") {
			var more int
			if _, err := fmt.Sscanf(s, "and %d more", &more); err != nil {
				t.Fatalf("marker entry %q", s)
			}
			listed += more
		}
	}
	if kept == 0 || kept+listed != 40 {
		t.Fatalf("%d numeric members kept, %d dropped entries listed; want all 40 accounted for, some kept", kept, listed)
	}
	again, _, err := b.Append(nil, []byte(raw), "audit_event", "U-drop")
	if err != nil || string(again) != string(line) {
		t.Fatal("the reduction is not deterministic")
	}
}

// Too many fields with no object to fold (only scalars at the top): the
// trailing members are dropped, as many as the excess needs, and listed.
func TestReductionDropsTrailingScalarsWhenNothingCanBeFolded(t *testing.T) {
	b := newBuilder(t, 59_999)
	var members []string
	for i := range 300 {
		members = append(members, fmt.Sprintf(`"f%03d":%d`, i, i))
	}
	raw := "{" + strings.Join(members, ",") + "}"
	line, info, err := b.Append(nil, []byte(raw), "audit_event", "k")
	if err != nil {
		t.Fatal(err)
	}
	if !info.Reduced {
		t.Fatalf("info = %+v; want a reduced event", info)
	}
	m := decodeLine(t, line)
	if n := wazuhFields(m); n > b.cfg.MaxFields {
		t.Fatalf("%d decoded fields, more than %d", n, b.cfg.MaxFields)
	}
	op := m["op"].(map[string]any)
	red := op["wazuh_pull"].(map[string]any)["reduced"].(map[string]any)
	dropped := red["dropped"].([]any)
	if len(dropped) == 0 || dropped[0] != "op.f299" {
		t.Fatalf("dropped = %v; want the trailing members, last first", dropped)
	}
	// A prefix survives intact; everything after it is gone.
	kept := 0
	for i := range 300 {
		v, ok := op[fmt.Sprintf("f%03d", i)]
		if !ok {
			break
		}
		if v != float64(i) {
			t.Fatalf("f%03d = %v", i, v)
		}
		kept++
	}
	for i := kept; i < 300; i++ {
		if _, ok := op[fmt.Sprintf("f%03d", i)]; ok {
			t.Fatalf("f%03d kept after f%03d was dropped", i, kept)
		}
	}
	if kept == 0 || kept >= 300 {
		t.Fatalf("%d members kept", kept)
	}
}
