package simtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// API is what a simulator tells the transport faults about its API.
type API struct {
	// Error writes an error answer in the API's own shape.
	Error func(w http.ResponseWriter, status int, msg string)
	// Messages words an error status where the API does not use
	// http.StatusText (for example 429 "Too many requests").
	Messages map[int]string
	// Serve answers the request normally into w, for the faults that cut
	// that answer short (Truncated, ShortBody).
	Serve func(w http.ResponseWriter)
}

func (a API) message(status int) string {
	if m, ok := a.Messages[status]; ok {
		return m
	}
	return http.StatusText(status)
}

// Apply performs transport fault f on a request. It reports whether the
// request is finished; false means "answer normally" (after a Slow
// fault's delay). A Slow fault ends early when the client gives up or
// the server closes.
func (s *Server) Apply(w *StatusWriter, r *http.Request, f Fault, api API) bool {
	switch f.Kind {
	case RateLimit:
		d := f.RetryAfter
		if d <= 0 {
			d = time.Second
		}
		SetRetryAfter(w.Header(), d)
		api.Error(w, http.StatusTooManyRequests, api.message(http.StatusTooManyRequests))
	case RateLimitNoRetryAfter:
		api.Error(w, http.StatusTooManyRequests, api.message(http.StatusTooManyRequests))
	case InternalError:
		api.Error(w, http.StatusInternalServerError, api.message(http.StatusInternalServerError))
	case BadGateway:
		api.Error(w, http.StatusBadGateway, api.message(http.StatusBadGateway))
	case ServiceUnavailable:
		if f.RetryAfter > 0 {
			SetRetryAfter(w.Header(), f.RetryAfter)
		}
		api.Error(w, http.StatusServiceUnavailable, api.message(http.StatusServiceUnavailable))
	case Slow:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			abort(w, false) // the client gave up; it will never read an answer
		case <-s.closing:
			abort(w, false)
		}
	case Truncated, ShortBody:
		bw := &bufferWriter{header: make(http.Header)}
		api.Serve(bw)
		cut := bw.buf[:len(bw.buf)/2]
		if f.Kind == ShortBody {
			writeShortBody(w, bw, cut)
			return true
		}
		for k, v := range bw.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(cut)))
		w.WriteHeader(bw.status)
		_, _ = w.Write(cut)
	case HTMLPage:
		writeHTML(w, http.StatusOK, htmlProxyPage)
	case HTMLBadGateway:
		writeHTML(w, http.StatusBadGateway, htmlBadGatewayPage)
	case ConnectionReset:
		abort(w, true)
	case ConnectionClose:
		abort(w, false)
	case EchoHeaders:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		api.Error(w, status, echoHeaders(r))
	default:
		panic(fmt.Sprintf("simtest: %v is not a transport fault", f.Kind))
	}
	return true
}

// SetRetryAfter sets Retry-After to d rounded up to whole seconds, the
// only form of it (besides an HTTP date) that clients must understand.
func SetRetryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
}

// echoHeaders is a misconfigured proxy's error message: the request line
// and every header, sorted.
func echoHeaders(r *http.Request) string {
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msg := "upstream error; request was: " + r.Method + " " + r.URL.Path
	for _, k := range keys {
		for _, v := range r.Header[k] {
			msg += "; " + k + ": " + v
		}
	}
	return msg
}

func writeHTML(w http.ResponseWriter, status int, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, page)
}

// abort drops the connection without a response. With reset the kernel
// sends an RST instead of a FIN (SO_LINGER 0).
func abort(w http.ResponseWriter, reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // net/http closes the connection for us
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if reset {
		raw := conn
		if nc, ok := raw.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
			raw = nc.NetConn()
		}
		if tc, ok := raw.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // best effort: without it the close is a FIN
		}
	}
	_ = conn.Close()
}

// writeShortBody hijacks the connection to send a Content-Length larger
// than the body, then closes: net/http itself refuses to do that.
func writeShortBody(w *StatusWriter, bw *bufferWriter, cut []byte) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close()
	w.setStatus(bw.status)
	fmt.Fprintf(rw, "HTTP/1.1 %d %s\r\n", bw.status, http.StatusText(bw.status))
	bw.header.Set("Content-Length", strconv.Itoa(len(bw.buf)))
	bw.header.Set("Connection", "close")
	_ = bw.header.Write(rw)
	_, _ = rw.WriteString("\r\n")
	_, _ = rw.Write(cut)
	_ = rw.Flush() // errors mean the client left, which is the point anyway
}

// bufferWriter collects a response so a fault can mangle it.
type bufferWriter struct {
	header http.Header
	status int
	buf    []byte
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

const htmlProxyPage = `<!DOCTYPE html>
<html><head><title>Network Access Message</title></head>
<body><h1>Access to this site requires authentication</h1>
<p>Your request was intercepted by the corporate web proxy. Please sign in to continue.</p>
</body></html>
`

const htmlBadGatewayPage = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
`
