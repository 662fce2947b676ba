package pipeline

import (
	"context"
	"errors"
	"fmt"
)

// Error codes of the seed wodles' taxonomy, matched by existing Wazuh rules
// on op.error_code (pp.error_code, xdr.error_code). Codes we added are
// marked; the seed rules treat unknown codes as generic errors.
const (
	CodeHTTP400           = "API_HTTP_400"
	CodeHTTP401           = "API_HTTP_401"
	CodeHTTP429           = "API_HTTP_429"
	CodeHTTP500           = "API_HTTP_500"
	CodeHTTPUnexpected    = "API_HTTP_UNEXPECTED"
	CodeTimeout           = "API_TIMEOUT"
	CodeConnection        = "API_CONNECTION_ERROR"
	CodeInvalidResponse   = "API_INVALID_RESPONSE"
	CodeUnexpected        = "API_UNEXPECTED_ERROR"
	CodeStateRead         = "STATE_READ_ERROR"
	CodeStateWrite        = "STATE_WRITE_ERROR"
	CodeMissingCredential = "CONFIG_MISSING_CREDENTIAL"
	CodeOrchestratorFatal = "ORCHESTRATOR_FATAL"
	CodeDeliveryFailed    = "DELIVERY_FAILED"   // added: the sink could not confirm delivery
	CodeEventReduced      = "EVENT_REDUCED"     // added: an event was cut to fit Wazuh's limits
	CodeCursorReset       = "CURSOR_RESET"      // added: the vendor refused the cursor; restarted with overlap
	CodeCollectionGap     = "COLLECTION_GAP"    // added: a window could not be collected (e.g. older than the vendor keeps)
	CodeInvalidEvent      = "API_INVALID_EVENT" // added: one item of a page could not be used
	CodeConfig            = "CONFIG_INVALID"    // added: a setting is invalid
	// added: a vendor response was larger than its limit and was not read on
	CodeResponseTooLarge = "API_RESPONSE_TOO_LARGE"
)

// CodeRequestBudget (added) means a vendor request quota (such as a rolling
// 24-hour pool) is nearly used up: the run stopped before exceeding it.
const CodeRequestBudget = "API_REQUEST_BUDGET"

// Error is an error that knows its seed error code and an operator-facing
// message. Detail adds context (endpoint, status) and never holds secrets.
type Error struct {
	Code    string
	Message string
	Detail  string
	Err     error
}

func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error.
func Errorf(code, message string, err error, detailFormat string, args ...any) *Error {
	return &Error{Code: code, Message: message, Detail: fmt.Sprintf(detailFormat, args...), Err: err}
}

// Coder is implemented by errors that carry an error code (the HTTP client's
// errors do).
type Coder interface {
	ErrorCode() string
}

// CodeOf returns the seed error code for err.
func CodeOf(err error) string {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return CodeTimeout
	}
	return CodeUnexpected
}

// Notice is an error event a source asks the pipeline to deliver with a
// page (for example: the cursor was refused and collection restarted).
type Notice struct {
	Code    string
	Message string
	Detail  string
}
