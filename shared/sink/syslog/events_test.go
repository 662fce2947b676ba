package syslog

import (
	"fmt"
	"strings"
)

// event returns one JSON line (with '\n') of about size bytes carrying id,
// shaped like a 1Password sign-in event; the strings hold a JSON-escaped
// newline, a quote and non-ASCII text so that any re-encoding on the way
// shows up as a byte difference.
func event(id int, size int) []byte {
	b := fmt.Appendf(nil, `{"integration":"1password","op":{"uuid":"ev-%08d","event_type":"signin_attempt",`+
		`"category":"success","note":"line one\nline two \"quoted\" caf\u00e9 \u2713 \u65e5\u672c \ud83d\ude00",`+
		`"client":{"app_name":"1Password Browser Extension","ip_address":"192.0.2.17","os_name":"MacOSX"},"pad":"`, id)
	if pad := size - len(b) - 4; pad > 0 {
		b = append(b, strings.Repeat("x", pad)...)
	}
	return append(b, "\"}}\n"...)
}

// eventID extracts the id that event put in a received line, or -1.
func eventID(line string) int {
	i := strings.Index(line, `"uuid":"ev-`)
	if i < 0 {
		return -1
	}
	var id int
	if _, err := fmt.Sscanf(line[i+len(`"uuid":"ev-`):], "%08d", &id); err != nil {
		return -1
	}
	return id
}

// page returns n events numbered from first, concatenated.
func page(first, n, size int) []byte {
	var b []byte
	for i := range n {
		b = append(b, event(first+i, size)...)
	}
	return b
}
