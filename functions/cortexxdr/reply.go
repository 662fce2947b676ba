package cortexxdr

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/utctime"
)

// fieldBudget is what a record may decode to in Wazuh: its 256 fields less
// the envelope's own (integration, type and four metadata fields).
const fieldBudget = event.MaxFields - 6

// decoder reads one reply {"reply":{"total_count":N,"<list>":[…]}} without
// building maps. Each record is reshaped once, here, into the form the
// event builder would produce (nulls dropped, times converted, large
// integers quoted) and handed on as clean, so building its line is a copy.
type decoder struct {
	def      StreamDef
	keyField string // record id: alert_id, incident_id
	timeKey  string // ordering time in the record: local_insert_ts, modification_time
	opts     jsonscan.Options
	strip    jsonscan.Stripper // remembers the shape of the last record
	buf      []byte            // reshaped records of the current reply
	spans    [][2]int
	items    []pipeline.Item
	times    []int64 // per item: its ordering time in ms, -1 if missing
	// The items' keys, one after the other, made one string when the
	// reply is read (one allocation a page, not one an event); keySpans
	// holds each item's, {-1, -1} for none.
	keys     []byte
	keySpans [][2]int
	fold     []byte
}

func newDecoder(def StreamDef) *decoder {
	d := &decoder{def: def, opts: Envelope().ScanOptions(EpochMillis())}
	switch def.Name {
	case StreamAlerts:
		d.keyField, d.timeKey = "alert_id", "local_insert_ts"
	default:
		d.keyField, d.timeKey = "incident_id", "modification_time"
	}
	d.opts.Capture = [2]string{d.keyField, d.timeKey}
	return d
}

// use reshapes records under the options of the stream's event builder
// (pipeline.ScanOptions), so that the builder copies them: the same as
// ours unless a deployment configured other epoch-millisecond fields.
func (d *decoder) use(o *jsonscan.Options) {
	if o == nil || o.Equal(&d.opts) {
		return
	}
	d.opts = *o
	d.opts.Capture = [2]string{d.keyField, d.timeKey}
}

// reply is one decoded reply.
type reply struct {
	// total is total_count (at most ResultCap), -1 when absent.
	total int
	items []pipeline.Item
	times []int64
}

// errNoReply marks a body that is JSON but not a reply: a proxy page, an
// API change. The caller asks again before giving up.
var errNoReply = errors.New("not a Cortex XDR reply")

// decode reads body. Records that are not objects are passed on as they
// are: the pipeline reports each one as an event it could not decode.
func (d *decoder) decode(body []byte) (*reply, error) {
	d.buf, d.spans, d.items, d.times = d.buf[:0], d.spans[:0], d.items[:0], d.times[:0]
	d.keys, d.keySpans = d.keys[:0], d.keySpans[:0]
	total, haveList, haveReply := -1, false, false
	var envErr *xdrError
	n, err := jsonscan.MembersFunc(body, func(name, rest []byte) (int, error) {
		if !jsonscan.Name(name, "reply") {
			return jsonscan.Skip(rest)
		}
		haveReply = true
		return jsonscan.MembersFunc(rest, func(name, rest []byte) (int, error) {
			switch {
			case jsonscan.Name(name, d.def.ListKey):
				haveList = true
				if len(rest) >= 4 && string(rest[:4]) == "null" {
					return 4, nil
				}
				return d.records(rest)
			case jsonscan.Name(name, "total_count"):
				n, err := jsonscan.Skip(rest)
				if err != nil {
					return n, err
				}
				if string(rest[:n]) == "null" {
					return n, nil
				}
				v, perr := strconv.Atoi(string(rest[:n]))
				if perr != nil || v < 0 {
					return n, fmt.Errorf(`"total_count" is not a count: %.40s`, rest[:n])
				}
				total = v
				return n, nil
			case jsonscan.Name(name, "err_code"), jsonscan.Name(name, "err_msg"):
				n, err := jsonscan.Skip(rest)
				if err == nil && string(rest[:n]) != "null" {
					envErr = &xdrError{}
				}
				return n, err
			}
			return jsonscan.Skip(rest)
		})
	})
	if err != nil {
		return nil, err
	}
	for _, c := range body[n:] {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return nil, errors.New("data after the reply object")
		}
	}
	if envErr != nil {
		return nil, errEnvelopeIn200
	}
	if !haveReply {
		return nil, fmt.Errorf(`%w: no "reply" member`, errNoReply)
	}
	if !haveList && total != 0 {
		return nil, fmt.Errorf(`%w: "reply" has no %q list`, errNoReply, d.def.ListKey)
	}
	for i, sp := range d.spans {
		if sp[0] >= 0 {
			d.items[i].Raw = d.buf[sp[0]:sp[1]]
		}
	}
	keys := string(d.keys)
	for i, ks := range d.keySpans {
		if ks[0] >= 0 {
			d.items[i].Key = keys[ks[0]:ks[1]]
		}
	}
	return &reply{total: total, items: d.items, times: d.times}, nil
}

// errEnvelopeIn200 is an error envelope served with status 200.
var errEnvelopeIn200 = errors.New("error envelope in a 200 reply")

// records walks the record list, reshaping each object into d.buf.
func (d *decoder) records(src []byte) (int, error) {
	i := skipSpace(src, 0)
	if i >= len(src) || src[i] != '[' {
		return i, &jsonscan.SyntaxError{Offset: i, Msg: "expected an array"}
	}
	i = skipSpace(src, i+1)
	if i < len(src) && src[i] == ']' {
		return i + 1, nil
	}
	for {
		i = skipSpace(src, i)
		if i >= len(src) {
			return i, &jsonscan.SyntaxError{Offset: i, Msg: "unexpected end of input in array"}
		}
		switch src[i] {
		case '{':
			start := len(d.buf)
			out, n, res, err := d.strip.Strip(d.buf, src[i:], &d.opts)
			if err != nil {
				var se *jsonscan.SyntaxError
				if errors.As(err, &se) {
					rebased := *se
					rebased.Offset += i
					err = &rebased
				}
				return i, err
			}
			d.buf = out
			fields := res.Fields
			var idValue, timeValue []byte
			if fields > fieldBudget {
				d.buf, fields = d.foldInto(d.buf, start)
				idValue, timeValue = topLevel(d.buf[start:], d.keyField, d.timeKey)
			} else {
				if sp := res.Captured[0]; sp.End > 0 {
					idValue = out[sp.Start:sp.End]
				}
				if sp := res.Captured[1]; sp.End > 0 {
					timeValue = out[sp.Start:sp.End]
				}
			}
			d.add(start, len(d.buf)-start, fields, idValue, timeValue)
			i += n
		case 'n':
			n, err := jsonscan.Skip(src[i:])
			if err != nil {
				return i, err
			}
			i += n // a null record is nothing
		default:
			n, err := jsonscan.Skip(src[i:])
			if err != nil {
				return i, err
			}
			d.spans = append(d.spans, [2]int{-1, -1})
			d.items = append(d.items, pipeline.Item{Raw: src[i : i+n], Type: d.def.EventType})
			d.keySpans = append(d.keySpans, [2]int{-1, -1})
			d.times = append(d.times, -1)
			i += n
		}
		i = skipSpace(src, i)
		if i >= len(src) {
			return i, &jsonscan.SyntaxError{Offset: i, Msg: "unexpected end of input in array"}
		}
		switch src[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return i, &jsonscan.SyntaxError{Offset: i, Msg: "expected ',' or ']'"}
		}
	}
}

func skipSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\r' || src[i] == '\t') {
		i++
	}
	return i
}

// add records one reshaped object (size bytes at start in d.buf) as an
// item, with its dedup key and time read from the values of its id and
// time members.
func (d *decoder) add(start, size, fields int, idValue, timeValue []byte) {
	ms := int64(-1)
	key := [2]int{-1, -1}
	if idValue != nil {
		n := len(d.keys)
		if keys, ok := appendID(d.keys, idValue); ok && len(keys) > n {
			d.keys, key = keys, [2]int{n, len(keys)}
		}
	}
	if timeValue != nil {
		if v, ok := millis(timeValue); ok {
			ms = v
		}
	}
	it := pipeline.Item{Type: d.def.EventType, Scan: jsonscan.Class{Opts: &d.opts, Clean: true, Fields: fields}}
	if ms >= 0 {
		it.Time = time.UnixMilli(ms).UTC()
	}
	if key[0] >= 0 && d.def.Name == StreamIncidents {
		// One event per change: the same incident at another
		// modification time is another event.
		d.keys = strconv.AppendInt(append(d.keys, ':'), ms, 10)
		key[1] = len(d.keys)
	}
	d.keySpans = append(d.keySpans, key)
	d.spans = append(d.spans, [2]int{start, start + size})
	d.items = append(d.items, it)
	d.times = append(d.times, ms)
}

// appendID appends the id idValue holds (see idString) to dst: the plain
// string tokens ids are, without a string of their own.
func appendID(dst, v []byte) ([]byte, bool) {
	if inner, ok := jsonscan.Plain(v); ok {
		return append(dst, inner...), true
	}
	id, ok := idString(v)
	return append(dst, id...), ok
}

// idString reads an id that the API sends as a string or a number (which
// reshaping may have quoted).
func idString(v []byte) (string, bool) {
	if len(v) > 0 && v[0] == '"' {
		return jsonscan.String(v)
	}
	if _, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return string(v), true
	}
	return "", false
}

// millis reads a reshaped time: the ISO 8601 string reshaping made of
// epoch milliseconds, or an integer left as it was (quoted or not).
func millis(v []byte) (int64, bool) {
	if len(v) >= 2 && v[0] == '"' {
		inner := v[1 : len(v)-1]
		if t, ok := utctime.Parse(inner); ok {
			return t.UnixMilli(), true
		}
		v = inner
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil && n > 0
}

// envelopeError turns an error envelope served with status 200 into the
// error its err_code names.
func envelopeError(body []byte) error {
	env, ok := parseXDRError(string(body))
	status := 0
	if ok {
		status, _ = strconv.Atoi(string(env.Code))
	}
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	return &httpx.StatusError{Status: status, Body: string(body[:min(len(body), 512)])}
}

// topLevel returns the values of two top-level members of obj, which must
// be compact, valid JSON (jsonscan.Strip's output): it only looks for the
// ends of tokens. (Only folded records need it: Strip locates the id and
// time of the others as it writes them.)
func topLevel(obj []byte, a, b string) (va, vb []byte) {
	i := 1
	for i < len(obj) && obj[i] == '"' {
		end := stringEnd(obj, i)
		name := obj[i+1 : end]
		i = end + 2 // past the closing quote and ':'
		start := i
		i = valueEnd(obj, i)
		if quoted := obj[end-len(name)-1 : end+1]; va == nil && jsonscan.Name(quoted, a) {
			va = obj[start:i]
		} else if vb == nil && jsonscan.Name(quoted, b) {
			vb = obj[start:i]
		}
		if va != nil && vb != nil || i >= len(obj) || obj[i] != ',' {
			break
		}
		i++
	}
	return va, vb
}

// stringEnd returns the index of the quote closing the string at i.
func stringEnd(src []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(src[j:], '"')
		if k < 0 {
			return len(src) - 1
		}
		j += k
		bs := 0
		for p := j - 1; p > i && src[p] == '\\'; p-- {
			bs++
		}
		if bs%2 == 0 {
			return j
		}
		j++
	}
}

// valueEnd returns the index just past the value at i.
func valueEnd(src []byte, i int) int {
	switch src[i] {
	case '"':
		return stringEnd(src, i) + 1
	case '{', '[':
		depth := 0
		for j := i; j < len(src); j++ {
			switch src[j] {
			case '"':
				j = stringEnd(src, j)
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(src)
	}
	j := i
	for j < len(src) && src[j] != ',' && src[j] != '}' && src[j] != ']' {
		j++
	}
	return j
}
