package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// StatusError is a non-2xx answer after retries.
type StatusError struct {
	Status int
	// Body is the start of the response body, redacted.
	Body string
	// RetryAfter is the server's requested wait, if any.
	RetryAfter time.Duration
	Msg        string
	// Header holds the response headers (a Date header tells the server's
	// clock, which matters when a signed timestamp was refused).
	Header http.Header
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d", e.Status)
	if e.Msg != "" {
		msg += ": " + e.Msg
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// ErrorCode maps the status to the seed taxonomy.
func (e *StatusError) ErrorCode() string {
	switch e.Status {
	case 400, 401, 429, 500:
		return fmt.Sprintf("API_HTTP_%d", e.Status)
	}
	return "API_HTTP_UNEXPECTED"
}

// Kinds of transport failure.
const (
	KindTimeout    = "timeout"
	KindConnection = "connection"
)

// TransportError is a failure before a complete response arrived.
type TransportError struct {
	Kind      string
	Op        string
	Err       error
	cancelled bool // the caller's context ended: do not retry
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Op, e.Kind, e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// ErrorCode maps the failure to the seed taxonomy.
func (e *TransportError) ErrorCode() string {
	if e.Kind == KindTimeout {
		return "API_TIMEOUT"
	}
	return "API_CONNECTION_ERROR"
}

func transportError(ctx, attemptCtx context.Context, op string, err error) error {
	te := &TransportError{Kind: KindConnection, Op: op, Err: err}
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		te.Kind, te.cancelled = KindTimeout, true
		te.Err = ctx.Err()
	case attemptCtx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
		te.Kind = KindTimeout
	}
	return te
}

// prepareError is a Request.Prepare failure: never retried, since the hook
// decides for itself (an ended context, a refused signature).
type prepareError struct{ err error }

func (e *prepareError) Error() string { return e.err.Error() }
func (e *prepareError) Unwrap() error { return e.err }
