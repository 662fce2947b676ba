package syslog

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

// appendPrefix appends what goes in front of every line: "<PRI>" and, with
// Header, "Jan _2 15:04:05 host tag: ". Its length never depends on now
// (time.Stamp pads the day), so Overhead is a constant.
func appendPrefix(dst []byte, c Config, now time.Time) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(c.Facility*8+c.Severity), 10)
	dst = append(dst, '>')
	if c.Header {
		// Never RFC 3339: wazuh-analysisd does not recognise a 'Z' zone or
		// nanoseconds, and RFC 5424 headers not at all.
		dst = now.UTC().AppendFormat(dst, time.Stamp)
		dst = append(dst, ' ')
		dst = append(dst, c.Hostname...)
		dst = append(dst, ' ')
		dst = append(dst, c.Tag...)
		dst = append(dst, ':', ' ')
	}
	return dst
}

func overhead(c Config) int { return len(appendPrefix(nil, c, time.Time{})) }

// checkLines verifies, before anything is sent, that b is whole lines whose
// body fits in maxBody bytes. It returns how many non-empty lines b holds.
func checkLines(b []byte, maxBody, overhead int) (int, error) {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return 0, fmt.Errorf("syslog: %w", sink.ErrPartialLine)
	}
	n, idx := 0, 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i > maxBody {
			return 0, fmt.Errorf("syslog: line %d of this write is %d bytes with the %d-byte prefix, the maximum is %d: %w",
				idx+1, i+overhead, overhead, maxBody+overhead, sink.ErrLineTooLong)
		}
		if i > 0 {
			n++
		}
		idx++
		b = b[i+1:]
	}
	return n, nil
}

// writeFramed writes every non-empty line of b (checked by checkLines) with
// prefix in front and its '\n' behind. Empty lines are skipped: they carry no
// event, and a bare "<PRI>" would reach Wazuh as a junk one.
func writeFramed(w *bufio.Writer, prefix, b []byte) error {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i > 0 {
			if _, err := w.Write(prefix); err != nil {
				return err
			}
			if _, err := w.Write(b[:i+1]); err != nil {
				return err
			}
		}
		b = b[i+1:]
	}
	return nil
}
