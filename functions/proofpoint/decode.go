package proofpoint

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// siemDecoder turns a SIEM answer into pipeline items without building
// maps. One validating pass classifies each event: one that the line
// builder can copy (compact, its only changes null or empty members to
// leave out, see jsonscan.Class) stays where it is in the answer and keeps
// its classification; any other is stripped, the way the builder would,
// into a buffer of the decoder, and handed on as clean. The dedup key is
// computed over the event either way: the canonical form ignores what
// stripping a copyable event changes (nulls, empty strings), so it is the
// key of the stripped event. The key of a copyable event is computed
// from the tokens that same pass recorded (jsonscan.TokenScanner), right
// after it, without reading the event a second time.
type siemDecoder struct {
	keyer    keyer
	fused    fused
	scanOpts jsonscan.Options
	scan     jsonscan.TokenScanner
	items    []pipeline.Item
	keys     []byte
	out      []byte
	spans    []span
	single   []byte // an event read alone, as an array
	// reference makes it read every event the reference way (tests).
	reference bool
}

type span struct {
	// raw is the event in the answer, when it is not copied into out
	// (then start and end locate it there).
	raw        []byte
	class      jsonscan.Class
	start, end int
	typ        string
	fields     int
	clean      bool
	time       time.Time // the event's own, from its key
}

func newSIEMDecoder() *siemDecoder {
	d := &siemDecoder{scanOpts: Envelope().ScanOptions(nil)}
	d.fused.k, d.fused.drop = &d.keyer, d.scanOpts.DropTopLevel
	return d
}

// siemTypes maps the lower-cased array names to the event types, so that
// a change of case in a member name does not change event_type.
var siemTypes = map[string]string{
	"messagesdelivered": TypeMessagesDelivered,
	"messagesblocked":   TypeMessagesBlocked,
	"clickspermitted":   TypeClicksPermitted,
	"clicksblocked":     TypeClicksBlocked,
}

// decode reads {"queryEndTime":…,"<type>":[…],…}. Arrays may be absent or
// null; arrays under names TAP may add later are forwarded too, with
// their name as event_type, rather than dropped. It returns queryEndTime
// (zero if absent). Items stay valid until the next decode.
func (d *siemDecoder) decode(body []byte) (time.Time, error) {
	d.items, d.out, d.spans, d.keys = d.items[:0], d.out[:0], d.spans[:0], d.keys[:0]
	d.scan.Reset()
	d.fused.holes = d.fused.holes[:0]
	var queryEnd time.Time
	n, err := jsonscan.MembersFunc(body, func(name, rest []byte) (int, error) {
		key, ok := rawString(name)
		if !ok {
			return 0, errors.New("member name is not a string")
		}
		lower := strings.ToLower(key)
		if rest[0] != '[' {
			n, err := jsonscan.Skip(rest)
			if err != nil {
				return n, err
			}
			if lower == "queryendtime" && string(rest[:n]) != "null" { // null: as if absent
				s, ok := rawString(rest[:n])
				if !ok {
					return 0, errors.New(`"queryEndTime" is not a string`)
				}
				if queryEnd, ok = parseTime(s); !ok {
					return 0, fmt.Errorf("queryEndTime %q is not a timestamp", s)
				}
			}
			return n, nil
		}
		typ, known := siemTypes[lower]
		if !known {
			typ = key
		}
		return d.array(rest, typ)
	})
	if err != nil {
		return time.Time{}, err
	}
	for _, c := range body[n:] {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return time.Time{}, errors.New("data after the response object")
		}
	}
	for _, sp := range d.spans {
		it := pipeline.Item{Raw: sp.raw, Type: sp.typ, Scan: sp.class}
		if sp.raw == nil {
			it = pipeline.Item{Raw: d.out[sp.start:sp.end], Type: sp.typ}
			if sp.clean {
				it.Scan = jsonscan.Class{Opts: &d.scanOpts, Clean: true, Fields: sp.fields}
			}
		}
		it.Time = sp.time
		d.items = append(d.items, it)
	}
	// One string for the page's keys rather than one each: a key kept in
	// a dedup set keeps the page's keys (22 bytes an event) alive with it,
	// never the events.
	keys := string(d.keys)
	for i := range d.items {
		d.items[i].Key = keys[i*keyLen : (i+1)*keyLen]
	}
	return queryEnd, nil
}

// array classifies each event of the array at the start of src, strips
// into d.out the objects that cannot be copied as they are, and returns
// the array's length. An element that is not an object is kept as it is,
// unclassified, for the pipeline to report. The events left in src stay
// valid as long as the answer's buffer, which the source keeps until its
// items are all delivered.
//
// Events are read by the fused walker (fused.go) where it can; one it
// declines is read alone the reference way. An array with anything
// invalid is read again wholly the reference way, which says what is
// wrong and where, and so is one whose events the walker declines more
// often than not (an answer with whitespace, say): reading each alone
// would cost more than the one reference pass.
func (d *siemDecoder) array(src []byte, typ string) (int, error) {
	if d.reference || !fusedUsable(&d.scanOpts) {
		return d.scanArray(src, typ)
	}
	spans, keys, out := len(d.spans), len(d.keys), len(d.out)
	again := func() (int, error) {
		d.spans, d.keys, d.out = d.spans[:spans], d.keys[:keys], d.out[:out]
		return d.scanArray(src, typ)
	}
	i := skipSpace(src, 1) // after '['
	if i < len(src) && src[i] == ']' {
		return i + 1, nil
	}
	walked, declined := 0, 0
	for {
		i = skipSpace(src, i)
		if i >= len(src) {
			return again()
		}
		start := i
		end, c, ok := 0, jsonscan.Class{}, false
		if src[i] == '{' {
			end, c, ok = d.fused.event(src, start, typ, &d.scanOpts)
		}
		if ok {
			d.keys = d.keyer.appendFinalKey(d.keys)
			d.spans = append(d.spans, span{raw: src[start:end], class: c, typ: typ, time: d.fused.own})
			i = end
			walked++
		} else {
			if declined++; declined > walked {
				return again()
			}
			n, err := jsonscan.Skip(src[start:])
			if err != nil || !d.alone(src[start:start+n], typ) {
				return again()
			}
			i = start + n
		}
		i = skipSpace(src, i)
		if i >= len(src) {
			return again()
		}
		switch src[i] {
		case ',':
			i++
		case ']':
			return i + 1, nil
		default:
			return again()
		}
	}
}

func skipSpace(src []byte, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\r' || src[i] == '\t') {
		i++
	}
	return i
}

// alone reads one event the reference way, as an array of its own;
// false if the scan does not find exactly that event in it.
func (d *siemDecoder) alone(elem []byte, typ string) bool {
	d.single = append(append(append(d.single[:0], '['), elem...), ']')
	seen := 0
	_, err := d.scan.ScanTokens(d.single, &d.scanOpts, func(e []byte, c jsonscan.Class, toks []jsonscan.Token) error {
		seen++
		if seen > 1 || len(e) != len(elem) {
			return errNotAlone
		}
		// The event in the answer, not in d.single: items refer to it.
		d.element(elem, c, toks, typ)
		return nil
	})
	return err == nil && seen == 1
}

var errNotAlone = errors.New("not one event")

// scanArray is array the reference way: one TokenScanner pass, each
// event keyed from its tokens.
func (d *siemDecoder) scanArray(src []byte, typ string) (int, error) {
	return d.scan.ScanTokens(src, &d.scanOpts, func(elem []byte, c jsonscan.Class, toks []jsonscan.Token) error {
		return d.element(elem, c, toks, typ)
	})
}

// element keys and records one event the scan classified.
func (d *siemDecoder) element(elem []byte, c jsonscan.Class, toks []jsonscan.Token, typ string) error {
	var own time.Time
	switch {
	case elem[0] == '{' && c.Copyable():
		// Keyed here, from the tokens of the one validating pass,
		// while the event is still in cache.
		d.keys, own = d.keyer.appendKeyTokens(d.keys, typ, elem, toks, &d.scan)
		d.spans = append(d.spans, span{raw: elem, class: c, typ: typ, time: own})
	case elem[0] == '{':
		start := len(d.out)
		out, _, res, err := jsonscan.Strip(d.out, elem, &d.scanOpts)
		if err != nil {
			return err // not after a validating scan
		}
		d.out = out
		d.keys, own = d.keyer.appendKey(d.keys, typ, out[start:])
		d.spans = append(d.spans, span{start: start, end: len(out), typ: typ, fields: res.Fields, clean: true, time: own})
	default:
		start := len(d.out)
		d.out = append(d.out, elem...)
		d.keys, own = d.keyer.appendKey(d.keys, typ, elem)
		d.spans = append(d.spans, span{start: start, end: len(d.out), typ: typ, time: own})
	}
	return nil
}
