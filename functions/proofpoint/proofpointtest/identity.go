package proofpointtest

import (
	"fmt"
	"strings"
)

// Member finds a member of a TAP object regardless of the case of its
// name, as TAP's names drift (GUID, guid).
func Member(m map[string]any, name string) any {
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// LineIdentity recomputes Event.Identity from a delivered SIEM event (the
// "pp" object of an output line), independently of the collector's dedup
// key: type/GUID/recipient for a message, type/id for a click, "" for
// anything else.
func LineIdentity(pp map[string]any) string {
	typ, _ := pp["event_type"].(string)
	switch typ {
	case TypeMessagesDelivered, TypeMessagesBlocked:
		r := Member(pp, "recipient")
		if a, ok := r.([]any); ok && len(a) == 1 {
			r = a[0]
		}
		return fmt.Sprintf("%s/%v/%v", typ, Member(pp, "GUID"), r)
	case TypeClicksPermitted, TypeClicksBlocked:
		return fmt.Sprintf("%s/%v", typ, Member(pp, "id"))
	}
	return ""
}
