package httpx

import (
	"errors"
	"fmt"
	"io"

	"github.com/wazuh-pull/wazuh-pull/shared/prefault"
)

// DefaultMaxBody bounds a response body when neither the client nor the
// request sets a limit. Vendors set their own, sized to their largest
// legal page: a body that is larger is a fault (a proxy, a hostile or
// broken server) and would otherwise grow until a 256 MB Lambda runs out
// of memory and dies without an error event. With this limit a process
// reading an endless body peaks at about 36 MB RSS
// (BenchmarkHostileEndlessBody); the peak grows by about 2.5 bytes per byte
// of limit.
const DefaultMaxBody = 8 << 20

// maxErrorBody is what is read of a non-2xx body: enough for the error
// snippet (after redaction), never the whole of a hostile body.
const maxErrorBody = 64 << 10

// BodyTooLargeError is a response whose body exceeds the limit. It is not
// retried: the same request would get the same answer.
type BodyTooLargeError struct {
	Status int
	Limit  int64
	// ContentLength is the announced length, -1 when the server did not
	// announce one (the body was read until it passed Limit).
	ContentLength int64
}

func (e *BodyTooLargeError) Error() string {
	if e.ContentLength >= 0 {
		return fmt.Sprintf("HTTP %d: response body of %d bytes exceeds the limit of %d bytes; not read", e.Status, e.ContentLength, e.Limit)
	}
	return fmt.Sprintf("HTTP %d: response body exceeds the limit of %d bytes; reading stopped there", e.Status, e.Limit)
}

// ErrorCode is the pipeline's code for an oversized response.
func (e *BodyTooLargeError) ErrorCode() string { return "API_RESPONSE_TOO_LARGE" }

// errBodyTooLarge is readBody's signal; attempt turns it into a
// BodyTooLargeError with the response's details.
var errBodyTooLarge = errors.New("response body too large")

// readBody reads r into buf (reused when large enough) and fails with
// errBodyTooLarge once more than limit bytes arrive. With a known length
// (Content-Length) it refuses an oversized body unread and otherwise reads
// into one buffer of at least that size; without one it starts from a
// buffer of hint bytes (the size of the previous pages, or what the
// request expects) and grows it by
// doubling only past that, never past limit+1 bytes, so a body that never
// ends costs at most about 1.5 × limit of memory and stops there. A buffer
// it has to allocate gets an eighth more than needed, so that the next
// pages, rarely much larger, fit in it: memory a process touches for the
// first time costs a page fault per 4 KiB, and growing a buffer page after
// page touches far more of it than reading into one.
func readBody(r io.Reader, length, limit int64, buf []byte, hint int64) ([]byte, error) {
	if length > limit {
		return buf[:0], errBodyTooLarge
	}
	if length >= 0 {
		if int64(cap(buf)) < length {
			buf = make([]byte, length, min(length+length/8, limit))
			prefault.Populate(buf)
		}
		buf = buf[:length]
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf = buf[:0]
	if want := min(hint+hint/8+1, limit+1); hint > 0 && int64(cap(buf)) < want {
		buf = make([]byte, 0, want)
		prefault.Populate(buf[:min(hint, int64(cap(buf)))])
	}
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, errBodyTooLarge
			}
			next := min(max(2*int64(cap(buf)), 64<<10), limit+1)
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errBodyTooLarge
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
