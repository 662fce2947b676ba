// Package sink defines where event lines go and when they count as delivered.
//
// The pipeline commits a cursor only after Confirm succeeds, so a Sink must
// never report delivery it cannot prove: a successful Write on its own only
// means the bytes left the process (or reached the local kernel).
package sink

import (
	"context"
	"errors"
)

// DefaultMaxLine is the default maximum length of one line in bytes, counting
// everything the sink adds (syslog <PRI>, optional header) but not the
// terminating '\n'. wazuh-remoted drops a connection on a line of 64 KiB and
// truncates lines near that size when it queues them, so we stay well below.
const DefaultMaxLine = 59_999

// Sink receives whole JSON lines and confirms their receipt.
type Sink interface {
	// Overhead is the number of bytes the sink adds in front of every line
	// (for syslog: "<PRI>" and the optional RFC 3164 header). Event builders
	// subtract it from the line budget so that a whole line never exceeds the
	// configured maximum.
	Overhead() int

	// Write sends b, which holds one or more complete JSON lines, each
	// terminated by '\n'. A sink never emits part of a line. An error means
	// that nothing written since the last successful Confirm may be treated
	// as delivered. Write does not keep b once it returns: the pipeline
	// builds every page in the same buffer.
	Write(ctx context.Context, b []byte) error

	// Confirm returns nil only when every line written since the previous
	// successful Confirm is known to have been received by the peer. When ctx
	// is cancelled, Confirm gives up and reports an error: the lines are then
	// not delivered and the cursor must not move.
	Confirm(ctx context.Context) error

	// Close releases the sink. Lines not confirmed are not delivered.
	Close() error
}

// ErrLineTooLong reports a line longer than the sink's maximum. Builders
// reduce oversized events before they reach a sink, so this is a bug guard:
// sending such a line to wazuh-remoted would lose it and every later line on
// the connection.
var ErrLineTooLong = errors.New("sink: line exceeds the maximum line length")

// ErrPartialLine reports a buffer that does not end with '\n'.
var ErrPartialLine = errors.New("sink: data does not end with a complete line")
