package cortexxdr

import (
	"slices"
	"strings"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

// FoldedKey is the member that holds, as one JSON text, the members of a
// record too wide for Wazuh (see foldInto).
const FoldedKey = "folded_fields"

// keptWhenFolding are never folded: the members the seed's rules, its
// dashboard and an analyst's first look rely on.
var keptWhenFolding = map[string]bool{
	"alert_id": true, "external_id": true, "name": true, "description": true, "severity": true,
	"category": true, "source": true, "alert_type": true, "action": true, "action_pretty": true,
	"host_name": true, "host_ip": true, "endpoint_id": true, "user_name": true, "case_id": true,
	"local_insert_ts": true, "detection_timestamp": true, "event_timestamp": true, "event_type": true,
	"mitre_tactic_id_and_name": true, "mitre_technique_id_and_name": true, "resolution_status": true,
	"matching_status": true, "agent_os_type": true, "tags": true, "starred": true,
	"incident_id": true, "status": true, "creation_time": true, "modification_time": true,
	"alert_count": true, "assigned_user_mail": true, "assigned_user_pretty_name": true,
	"resolve_comment": true, "mitre_tactics_ids_and_names": true, "mitre_techniques_ids_and_names": true,
	"incident_name": true, "xdr_url": true, "hosts": true, "users": true,
	"type": true, "wazuh_pull": true,
}

type foldMember struct {
	name   string
	raw    []byte // "name":value as reshaped
	fields int
	order  int
	kind   int // what moves first: 0 object, 1 list, 2 scalar
}

// foldInto makes the reshaped record at buf[start:] fit Wazuh's field
// limit. Wazuh drops the fields of an event past its 256th, so a record
// that would decode to more keeps its fields up to the budget and moves
// the rest into one string member, FoldedKey, holding a JSON object of
// them. The rule is deterministic and depends only on the record: the
// members of keptWhenFolding never move; of the others, objects move first
// (those with the most fields first, e.g. dynamic_fields), then lists (the
// per-event fields of a v2 alert: actor_*, action_*, causality_*, …), then
// scalars (alert-level fields, the most useful to rules), each group in
// name order, until the record fits. The folded object lists its members
// in the record's order.
func (d *decoder) foldInto(buf []byte, start int) ([]byte, int) {
	obj := buf[start:]
	var members []foldMember
	total := 0
	jsonscan.Members(obj, func(name, value []byte) error {
		n := valueFields(value)
		raw := make([]byte, 0, len(name)+1+len(value))
		raw = append(append(append(raw, name...), ':'), value...)
		kind := 2
		switch value[0] {
		case '{':
			kind = 0
		case '[':
			kind = 1
		}
		members = append(members, foldMember{name: string(name[1 : len(name)-1]), raw: raw, fields: n, order: len(members), kind: kind})
		total += n
		return nil
	})
	candidates := make([]*foldMember, 0, len(members))
	for i := range members {
		if !keptWhenFolding[members[i].name] {
			candidates = append(candidates, &members[i])
		}
	}
	slices.SortStableFunc(candidates, func(a, b *foldMember) int {
		if a.kind != b.kind {
			return a.kind - b.kind
		}
		if a.fields != b.fields {
			return b.fields - a.fields
		}
		return strings.Compare(a.name, b.name)
	})
	moved := map[int]bool{}
	fields := total + 1 // the folded string itself
	for _, m := range candidates {
		if fields <= fieldBudget {
			break
		}
		moved[m.order] = true
		fields -= m.fields
	}
	var kept, folded []byte
	kept = append(d.fold[:0], '{')
	folded = append(folded, '{')
	for i := range members {
		if moved[i] {
			if len(folded) > 1 {
				folded = append(folded, ',')
			}
			folded = append(folded, members[i].raw...)
			continue
		}
		if len(kept) > 1 {
			kept = append(kept, ',')
		}
		kept = append(kept, members[i].raw...)
	}
	folded = append(folded, '}')
	if len(kept) > 1 {
		kept = append(kept, ',')
	}
	kept = append(kept, `"`+FoldedKey+`":`...)
	kept = appendJSONString(kept, folded)
	kept = append(kept, '}')
	d.fold = kept
	return append(buf[:start], kept...), fields
}

// valueFields counts what Wazuh decodes a reshaped value into: one field
// per scalar and per list, an object the sum of its members.
func valueFields(v []byte) int {
	if len(v) == 0 || v[0] != '{' {
		return 1
	}
	n := 0
	jsonscan.Members(v, func(_, value []byte) error {
		n += valueFields(value)
		return nil
	})
	return n
}

// appendJSONString appends s (valid UTF-8 JSON text, no raw control
// characters) as a JSON string.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
