package proofpoint

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// siemDecoder turns a SIEM answer into pipeline items in one validating
// pass, without building maps: item bytes point into the body.
type siemDecoder struct {
	keyer    keyer
	scanOpts jsonscan.Options
	items    []pipeline.Item
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
// (zero if absent).
func (d *siemDecoder) decode(body []byte) (time.Time, error) {
	d.items = d.items[:0]
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
		return jsonscan.ScanArray(rest, &d.scanOpts, func(raw []byte, class jsonscan.Class) error {
			it := pipeline.Item{Raw: raw, Type: typ, Scan: class}
			it.Key, it.Time = d.keyer.key(typ, raw)
			d.items = append(d.items, it)
			return nil
		})
	})
	if err != nil {
		return time.Time{}, err
	}
	for _, c := range body[n:] {
		if c != ' ' && c != '\n' && c != '\r' && c != '\t' {
			return time.Time{}, errors.New("data after the response object")
		}
	}
	return queryEnd, nil
}
