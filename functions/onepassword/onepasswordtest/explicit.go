package onepasswordtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// parseExplicit validates and compacts an ingested event and extracts the
// fields the server needs: uuid (for EventIDs) and timestamp (for filters).
// Compaction keeps string escapes exactly as given.
func parseExplicit(raw []byte) (compact []byte, uuid string, ts *int64, err error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, "", nil, fmt.Errorf("event is not valid JSON: %w", err)
	}
	compact = buf.Bytes()
	if len(compact) == 0 || compact[0] != '{' {
		return nil, "", nil, errors.New("event is not a JSON object")
	}
	var head struct {
		UUID      any `json:"uuid"`
		Timestamp any `json:"timestamp"`
	}
	if err := json.Unmarshal(compact, &head); err != nil {
		return nil, "", nil, fmt.Errorf("decode event: %w", err)
	}
	uuid, _ = head.UUID.(string)
	if s, ok := head.Timestamp.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			ns := t.UnixNano()
			ts = &ns
		}
	}
	return compact, uuid, ts, nil
}

// oversizedChunk repeats to fill an oversized field. It mixes ASCII,
// 2-, 3- and 4-byte UTF-8 and JSON escapes, so that a client truncating
// the field must respect both rune and escape boundaries.
const oversizedChunk = `oversized field Zoë Ångström 李雷 🙂 \u003ctag\u003e \u0026 \"q\" \n `

const minOversized = 64<<10 + 1

// oversizedEvent builds a schema-shaped event of at least size bytes whose
// bulk is one string field.
func (g *generator) oversizedEvent(id streamID, seq uint64, ts int64, size int) []byte {
	size = max(size, minOversized)
	hi, lo := g.idParts(id, seq)
	r := rng{s: hi ^ lo}
	ts = truncNanos(ts, streamPrecision[id])
	var pre, post []byte
	pre = append(pre, `{"uuid":"`...)
	pre = appendID(pre, hi, lo, upperB32)
	pre = append(pre, `","timestamp":"`...)
	pre = appendTime(pre, ts, streamPrecision[id])
	switch id {
	case audit:
		actor := r.n(numUsers)
		pre = append(pre, `","actor_uuid":"`...)
		pre = append(pre, g.userUUIDs[actor]...)
		pre = append(pre, `","actor_details":`...)
		pre = append(pre, g.users[actor]...)
		pre = append(pre, `,"actor_type":"user","account_uuid":"`...)
		pre = append(pre, g.accountUUID...)
		pre = append(pre, `","action":"update","object_type":"item","object_uuid":"`...)
		pre = appendID(pre, r.next(), r.next(), lowerB32)
		pre = append(pre, `","aux_info":"`...)
		post = append(post, `","session":{"uuid":"`...)
		post = appendID(post, r.next(), r.next(), upperB32)
		post = append(post, `","login_time":"`...)
		post = appendTime(post, truncNanos(ts-3600e9, 3), 3)
		post = append(post, `","device_uuid":"`...)
		post = appendID(post, r.next(), r.next(), lowerB32)
		post = append(post, `","ip":"198.51.100.7"},"location":`...)
		post = append(post, locations[0]...)
		post = append(post, '}')
	case signin:
		pre = append(pre, `","session_uuid":"`...)
		pre = appendID(pre, r.next(), r.next(), upperB32)
		pre = append(pre, `","category":"firewall_failed","type":"ip_blocked","country":"NL","details":{"value":"`...)
		post = append(post, `"},"target_user":`...)
		post = append(post, g.users[r.n(numUsers)]...)
		post = append(post, `,"client":`...)
		post = appendClient(post, &r)
		post = append(post, `,"location":`...)
		post = append(post, locations[2]...) // Amsterdam, matching country NL
		post = append(post, '}')
	default:
		pre = append(pre, `","used_version":1,"vault_uuid":"`...)
		pre = append(pre, g.vaults[0]...)
		pre = append(pre, `","item_uuid":"`...)
		pre = appendID(pre, r.next(), r.next(), lowerB32)
		pre = append(pre, `","action":"reveal","user":{"uuid":"`...)
		pre = append(pre, g.userUUIDs[0]...)
		pre = append(pre, `","name":"`...)
		post = append(post, `","email":"big.name@example.org"},"client":`...)
		post = appendClient(post, &r)
		post = append(post, `,"location":`...)
		post = append(post, locations[1]...)
		post = append(post, '}')
	}
	out := make([]byte, 0, size+len(oversizedChunk)+len(post))
	out = append(out, pre...)
	for len(out)+len(post) < size {
		out = append(out, oversizedChunk...)
	}
	return append(out, post...)
}

// specialEvent builds a schema-shaped event full of valid-but-awkward JSON.
// The unknown "future_*" fields stand for fields the vendor may add (it
// did so in API 1.4.1); no documented field is an array, so they are also
// where empty and nested arrays appear.
func (g *generator) specialEvent(id streamID, seq uint64, ts int64) []byte {
	hi, lo := g.idParts(id, seq)
	ts = truncNanos(ts, streamPrecision[id])
	const awkward = `line one\nline two\r\n\ttabbed \"quoted\" back\\slash \u0000nul \u0007bell \u001besc ` +
		"\x7fdel " + `\u2028sep \u003cscript\u003ealert(1)\u003c/script\u003e \u0026amp; Zoë Ångström 李雷 🙂 \/slash`
	const future = `,"future_list":[],"future_object":{"list":[null,"",{},[],0,false],"empty":{},"nothing":null}`
	var b []byte
	b = append(b, `{"uuid":"`...)
	b = appendID(b, hi, lo, upperB32)
	b = append(b, `","timestamp":"`...)
	b = appendTime(b, ts, streamPrecision[id])
	b = append(b, '"')
	switch id {
	case audit:
		b = append(b, `,"actor_uuid":"`...)
		b = append(b, g.userUUIDs[1]...)
		b = append(b, `","actor_details":{"uuid":"`...)
		b = append(b, g.userUUIDs[1]...)
		b = append(b, `","name":"Zoë Ångström 李雷 🙂","email":"","user_type":null},"actor_type":"user","account_uuid":"`...)
		b = append(b, g.accountUUID...)
		b = append(b, `","action":"update","object_type":"item","object_uuid":"","object_details":null,`+
			`"aux_id":null,"aux_uuid":"","aux_details":{},"aux_info":"`...)
		b = append(b, awkward...)
		b = append(b, `","session":{"uuid":"","login_time":null,"device_uuid":"","ip":""},`+
			`"location":{"country":"","region":null,"city":"Zürich","latitude":0,"longitude":0}`...)
	case signin:
		b = append(b, `,"session_uuid":"","category":"firewall_failed","type":"country_blocked","country":"",`+
			`"details":{"value":"`...)
		b = append(b, awkward...)
		b = append(b, `"},"target_user":{"uuid":"`...)
		b = append(b, g.userUUIDs[2]...)
		b = append(b, `","name":"李雷","email":null},"client":{"app_name":"","app_version":null,"platform_name":"Firefox",`+
			`"platform_version":"","os_name":"Windows","os_version":"","ip_address":"2001:db8::1"},"location":{}`...)
	default:
		b = append(b, `,"used_version":0,"vault_uuid":"`...)
		b = append(b, g.vaults[1]...)
		b = append(b, `","item_uuid":"","action":"","user":{"uuid":"`...)
		b = append(b, g.userUUIDs[3]...)
		b = append(b, `","name":"`...)
		b = append(b, awkward...)
		b = append(b, `","email":null},"client":null,"location":{"country":"Japan","region":"","city":"東京","latitude":null,"longitude":null}`...)
	}
	b = append(b, future...)
	return append(b, '}')
}
