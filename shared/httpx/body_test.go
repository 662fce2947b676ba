package httpx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// endless answers 200 with a body that never ends (chunked, no length),
// like a broken proxy or a hostile server, and counts the bytes it wrote.
func endless(status int, written *atomic.Int64) http.HandlerFunc {
	chunk := bytes.Repeat([]byte(`{"items":[`), 3277) // ~32 KiB
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		// Bounded all the same: the test must end even if the client
		// reads on.
		for range 1 << 15 {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}
}

// An endless 200 used to be read up to 256 MiB into a growing buffer (34 s,
// about 1 GiB in the field): it now fails at the limit, with its own error
// code, and is not retried.
func TestEndlessBodyFailsAtTheLimit(t *testing.T) {
	var written atomic.Int64
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		endless(200, &written)(w, r)
	}))
	defer srv.Close()
	const limit = 1 << 20
	_, err := client(t, Config{MaxBody: limit}).Do(context.Background(), &Request{Method: "GET", URL: srv.URL})
	var tl *BodyTooLargeError
	if !errors.As(err, &tl) || tl.Limit != limit || tl.ContentLength != -1 || tl.Status != 200 {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if code := pipeline.CodeOf(err); code != pipeline.CodeResponseTooLarge {
		t.Fatalf("code %s", code)
	}
	if requests.Load() != 1 {
		t.Fatalf("%d requests: an oversized answer must not be asked again", requests.Load())
	}
}

// An announced length over the limit is refused before a byte of the body
// is read: the server below would hold the connection open for a minute.
func TestAnnouncedOversizedBodyIsNotRead(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<30))
		w.WriteHeader(200)
		w.Write([]byte(`{"items":[`))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(time.Minute):
		}
	}))
	defer srv.Close()
	defer close(release)
	_, err := client(t, Config{}).Do(context.Background(), &Request{Method: "GET", URL: srv.URL})
	var tl *BodyTooLargeError
	if !errors.As(err, &tl) || tl.ContentLength != 1<<30 || tl.Limit != DefaultMaxBody {
		t.Fatalf("err = %v", err)
	}
}

// A request's own limit replaces the client's, both ways.
func TestRequestLimitOverridesClientLimit(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 5000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.Write(body)
	}))
	defer srv.Close()
	c := client(t, Config{MaxBody: 4000})
	for _, q := range []string{"", "?chunked=1"} {
		for _, tc := range []struct {
			limit int64
			ok    bool
		}{{0, false}, {4999, false}, {5000, true}, {1 << 20, true}} {
			resp, err := c.Do(context.Background(), &Request{Method: "GET", URL: srv.URL + q, MaxBody: tc.limit})
			if tc.ok && (err != nil || !bytes.Equal(resp.Body, body)) {
				t.Fatalf("%s limit %d: %v", q, tc.limit, err)
			}
			if !tc.ok && pipeline.CodeOf(err) != pipeline.CodeResponseTooLarge {
				t.Fatalf("%s limit %d: err %v", q, tc.limit, err)
			}
		}
	}
}

// An endless error body is read only as far as its snippet needs.
func TestEndlessErrorBodyIsCut(t *testing.T) {
	var written atomic.Int64
	srv := httptest.NewServer(endless(400, &written))
	defer srv.Close()
	_, err := client(t, Config{}).Do(context.Background(), &Request{Method: "GET", URL: srv.URL})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != 400 || len(se.Body) == 0 || len(se.Body) > 520 {
		t.Fatalf("err = %v", err)
	}
}

// readBody against every way a body can arrive: known or unknown length,
// in pieces of any size, short, long, or exactly at the limit.
func TestReadBody(t *testing.T) {
	for _, n := range []int{0, 1, 100, 64 << 10, 64<<10 + 1, 300000} {
		data := bytes.Repeat([]byte("abcdefg"), n/7+1)[:n]
		for _, limit := range []int64{int64(n) - 1, int64(n), int64(n) + 1, 1 << 20} {
			if limit < 0 {
				continue
			}
			for _, length := range []int64{-1, int64(n)} {
				for _, r := range []io.Reader{bytes.NewReader(data), iotest.OneByteReader(bytes.NewReader(data)), iotest.HalfReader(bytes.NewReader(data))} {
					got, err := readBody(r, length, limit, nil, 0)
					if int64(n) > limit {
						if !errors.Is(err, errBodyTooLarge) {
							t.Fatalf("n=%d limit=%d length=%d: err %v", n, limit, length, err)
						}
						if int64(cap(got)) > limit+1 && length < 0 {
							t.Fatalf("buffer grew to %d past limit %d", cap(got), limit)
						}
						continue
					}
					if err != nil || !bytes.Equal(got, data) {
						t.Fatalf("n=%d limit=%d length=%d: %d bytes, %v", n, limit, length, len(got), err)
					}
				}
			}
		}
	}
	// A short body with a known length is a transport error (retried),
	// not a short page.
	if _, err := readBody(bytes.NewReader([]byte("abc")), 10, 100, nil, 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: %v", err)
	}
	// The caller's buffer is reused when large enough.
	buf := make([]byte, 0, 64)
	got, _ := readBody(bytes.NewReader([]byte("hello")), 5, 100, buf, 0)
	if &got[0] != &buf[:1][0] {
		t.Fatal("buffer not reused")
	}
}

// A body of unknown length is read into one buffer sized from the hint
// (the previous pages) instead of one grown by doubling, and a buffer
// allocated for a known length leaves room for a slightly larger page.
func TestReadBodySizedFromHint(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 90_000) // 900 000 bytes
	hinted, err := readBody(iotest.HalfReader(bytes.NewReader(data)), -1, 8<<20, nil, 880_000)
	if err != nil || !bytes.Equal(hinted, data) {
		t.Fatalf("%d bytes, %v", len(hinted), err)
	}
	if cap(hinted) != 880_000+110_000+1 {
		t.Fatalf("capacity %d: the buffer was not sized from the hint, or grew", cap(hinted))
	}
	got, _ := readBody(bytes.NewReader(data), int64(len(data)), 8<<20, nil, 0)
	next, _ := readBody(bytes.NewReader(append(data, "more"...)), int64(len(data)+4), 8<<20, got, 0)
	if &next[0] != &got[0] {
		t.Fatal("a page 4 bytes larger than the last needed a new buffer")
	}
	// The hint never lifts the limit.
	if _, err := readBody(bytes.NewReader(data), -1, 1000, nil, 1<<30); !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("err %v", err)
	}
}

func FuzzReadBody(f *testing.F) {
	// The body is chunk repeated, so that bodies past the first 64 KiB
	// buffer come from small inputs: a 70 000-byte input made every
	// mutation and every minimisation step slow, and Go 1.26's fuzzer
	// reports its minimisation running out of time as a failure. With
	// known set, the length announced is the body's plus delta.
	f.Add([]byte("hello"), uint16(0), false, int16(0), int64(3), uint8(1))
	f.Add([]byte("zz"), uint16(34999), true, int16(0), int64(70000), uint8(7))
	f.Add([]byte("0123456789"), uint16(7000), false, int16(0), int64(1<<20), uint8(2))
	f.Add([]byte("ab"), uint16(40000), true, int16(-3), int64(90000), uint8(0))
	f.Fuzz(func(t *testing.T, chunk []byte, repeat uint16, known bool, delta int16, limit int64, piece uint8) {
		n := 1 + int(repeat)
		if len(chunk)*n > 2<<20 { // beyond every limit tried: nothing new
			n = max(1, (2<<20)/len(chunk))
		}
		data := bytes.Repeat(chunk, n)
		length := int64(-1)
		if known {
			length = int64(len(data)) + int64(delta)
		}
		if limit < 0 || length < -1 {
			return
		}
		limit %= 1 << 20
		var r io.Reader = bytes.NewReader(data)
		if piece%3 == 1 {
			r = iotest.OneByteReader(r)
		} else if piece%3 == 2 {
			r = iotest.DataErrReader(r)
		}
		got, err := readBody(r, length, limit, nil, 0)
		switch {
		case length > limit || length < 0 && int64(len(data)) > limit:
			if !errors.Is(err, errBodyTooLarge) {
				t.Fatalf("over the limit, err %v", err)
			}
		case length >= 0 && length != int64(len(data)):
			if length > int64(len(data)) && err == nil {
				t.Fatal("short body accepted")
			}
			if length < int64(len(data)) && (err != nil || !bytes.Equal(got, data[:length])) {
				t.Fatal("known length not honoured")
			}
		default:
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("err %v, %d of %d bytes", err, len(got), len(data))
			}
		}
		if length < 0 && int64(cap(got)) > limit+1 && int64(cap(got)) > 64<<10 {
			t.Fatalf("cap %d past limit %d", cap(got), limit)
		}
	})
}

// hostileChildEnv makes the test binary a child that fetches one hostile
// body and exits (see TestMain), so the parent can read its peak RSS
// without the server's memory or other benchmarks' in the figure.
const hostileChildEnv = "HTTPX_HOSTILE_BODY_URL"

func TestMain(m *testing.M) {
	if url := os.Getenv(hostileChildEnv); url != "" {
		os.Exit(hostileChild(url, os.Getenv("HTTPX_HOSTILE_BODY_LIMIT")))
	}
	os.Exit(m.Run())
}

func hostileChild(url, limit string) int {
	max, _ := strconv.ParseInt(limit, 10, 64)
	c, err := New(Config{MaxBody: max, MaxAttempts: 3})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, err = c.Do(context.Background(), &Request{Method: "GET", URL: url})
	var tl *BodyTooLargeError
	if !errors.As(err, &tl) {
		fmt.Fprintf(os.Stderr, "want a BodyTooLargeError, got %v\n", err)
		return 1
	}
	return 0
}

// BenchmarkHostileEndlessBody measures the peak RSS and time of a process
// whose vendor answers 200 with a body that never ends, at the default
// limit (also 1Password's page limit). It fails at 64 MB: a 256 MB Lambda
// must survive it and report API_RESPONSE_TOO_LARGE.
func BenchmarkHostileEndlessBody(b *testing.B) {
	var written atomic.Int64
	srv := httptest.NewServer(endless(200, &written))
	defer srv.Close()
	for _, limit := range []int64{DefaultMaxBody} {
		b.Run(fmt.Sprintf("limit=%dMiB", limit>>20), func(b *testing.B) {
			var peak int64
			start := time.Now()
			for range b.N {
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), hostileChildEnv+"="+srv.URL, "HTTPX_HOSTILE_BODY_LIMIT="+strconv.FormatInt(limit, 10))
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("child: %v\n%s", err, out)
				}
				// Linux reports ru_maxrss in KiB.
				peak = max(peak, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss<<10)
			}
			b.ReportMetric(float64(peak)/1e6, "peak-RSS-MB")
			b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/failure")
			if peak >= 64e6 {
				b.Fatalf("peak RSS %d bytes with a %d-byte limit: over 64 MB", peak, limit)
			}
		})
	}
}
