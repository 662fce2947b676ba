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
// maps. Each event is stripped once, the way the line builder would (nulls
// and empty strings dropped, compact), into a buffer of the decoder; the
// dedup key is computed over that copy, and the builder, told the copy is
// clean, only has to copy it into the line.
type siemDecoder struct {
	keyer    keyer
	scanOpts jsonscan.Options
	items    []pipeline.Item
	out      []byte
	spans    []span
}

type span struct {
	start, end int
	typ        string
	fields     int
	clean      bool
}

func newSIEMDecoder() *siemDecoder {
	return &siemDecoder{scanOpts: Envelope().ScanOptions(nil)}
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
	d.items, d.out, d.spans = d.items[:0], d.out[:0], d.spans[:0]
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
			if lower == "queryendtime" {
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
		it := pipeline.Item{Raw: d.out[sp.start:sp.end], Type: sp.typ}
		if sp.clean {
			it.Scan = jsonscan.Class{Opts: &d.scanOpts, Clean: true, Fields: sp.fields}
		}
		it.Key, it.Time = d.keyer.key(sp.typ, it.Raw)
		d.items = append(d.items, it)
	}
	return queryEnd, nil
}

// array strips each event of the array at the start of src into d.out and
// returns the array's length. An element that is not an object is kept
// as it is, for the pipeline to report.
func (d *siemDecoder) array(src []byte, typ string) (int, error) {
	i := 1 // '['
	space := func() {
		for i < len(src) && (src[i] == ' ' || src[i] == '\n' || src[i] == '\r' || src[i] == '\t') {
			i++
		}
	}
	space()
	if i < len(src) && src[i] == ']' {
		return i + 1, nil
	}
	for {
		space()
		if i >= len(src) {
			return i, &jsonscan.SyntaxError{Offset: i, Msg: "unexpected end of input in array"}
		}
		start := len(d.out)
		if src[i] == '{' {
			out, n, res, err := jsonscan.Strip(d.out, src[i:], &d.scanOpts)
			if err != nil {
				return i, rebase(err, i)
			}
			d.out = out
			d.spans = append(d.spans, span{start: start, end: len(out), typ: typ, fields: res.Fields, clean: true})
			i += n
		} else {
			n, err := jsonscan.Skip(src[i:])
			if err != nil {
				return i, rebase(err, i)
			}
			d.out = append(d.out, src[i:i+n]...)
			d.spans = append(d.spans, span{start: start, end: len(d.out), typ: typ})
			i += n
		}
		space()
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

// rebase makes a syntax error's offset relative to the array's start.
func rebase(err error, by int) error {
	var se *jsonscan.SyntaxError
	if errors.As(err, &se) {
		r := *se
		r.Offset += by
		return &r
	}
	return err
}
