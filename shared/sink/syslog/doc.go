// Package syslog is the sink that sends event lines to wazuh-remoted over
// syslog: TCP on a private network, TLS through a relay (remoted has no TLS),
// or UDP on explicit request.
//
// Each line goes out as "<PRI>" + line + "\n" (optionally with an RFC 3164
// header between the two), the only framing wazuh-remoted understands.
// docs/wazuh.md records how remoted reads syslog, which this relies on.
//
// # Delivery
//
// A successful Write only means the bytes reached the local kernel. Confirm
// proves receipt: it half-closes the connection (TCP FIN, and first a TLS
// close_notify) and reads until the peer closes. wazuh-remoted and rsyslog
// close only after reading every byte, so the peer's orderly close means
// "all received". A reset, a TLS alert (an mTLS rejection under TLS 1.3
// arrives only after the handshake looked fine), a timeout, or a close that
// leaves some of our bytes unacknowledged by the peer's TCP stack means "not
// delivered": Confirm then returns an error wrapping ErrNotConfirmed and the
// caller must not move its cursor. Each Confirm ends the connection; the next
// Write dials a new one.
//
// After a failed Write, the lines written since the last Confirm are lost as
// a whole (some may have arrived, none is proven): further Writes fail fast
// and the next Confirm reports ErrNotConfirmed, after which the sink starts
// afresh. Re-sending is the pipeline's job (it resumes from its cursor).
//
// UDP cannot confirm anything: Confirm only reports that the datagrams left
// the host (and an ICMP "port unreachable" if one came back). It is offered
// for receivers that accept nothing else and must be enabled with AllowUDP.
//
// # Pacing
//
// A confirmed receipt proves that the lines reached the manager's door,
// not that the manager kept up: wazuh-analysisd drops events when its
// queues fill (from archives.json and alerts.json alike, or from
// archives.json alone), warning once in ossec.log. EventsPerSecond keeps a
// sink under what the manager absorbs: a token bucket holding one second's
// worth lets lines go at once while it has tokens (no timer, no wait) and
// spaces the rest at the limit. PaceDelay tells a caller with a deadline
// how long a write would be held back, so that it can stop at a page
// boundary instead (the pipeline's "paced" stop); PacedWrite sends lines
// the caller insists on before a deadline faster than the limit, spread
// over the time left. docs/syslog-pacing.md has the measurements behind
// DefaultEventsPerSecond.
//
// A Sink is not safe for concurrent use; cancel the context to interrupt a
// blocked Write or Confirm.
package syslog
