package onepasswordtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// t0 is the fixed "now" of most tests, so time windows are exact.
var t0 = time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)

// newServer starts a simulator at t0 with one account "acme" (all
// features) and rate limits disabled unless opts says otherwise.
func newServer(t testing.TB, opts Options) (*Server, *simtest.Clock, string) {
	t.Helper()
	c := simtest.NewClock(t0)
	if opts.Now == nil {
		opts.Now = c.Now
	}
	if opts.RateLimitPerMinute == 0 {
		opts.RateLimitPerMinute = -1
	}
	if opts.RateLimitPerHour == 0 {
		opts.RateLimitPerHour = -1
	}
	s := New(opts)
	t.Cleanup(s.Close)
	tok := s.AddAccount("acme", Account{Seed: 42})
	return s, c, tok
}

type page struct {
	Cursor  string            `json:"cursor"`
	HasMore bool              `json:"has_more"`
	Items   []json.RawMessage `json:"items"`
}

type apiError struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// do sends one request over loopback HTTP and returns status, headers and body.
func do(t testing.TB, s *Server, token, method, path, body string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		t.Fatalf("build request: %v", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body of %s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// fetch POSTs body to a stream and expects a valid page.
func fetch(t testing.TB, s *Server, token, stream, body string) page {
	t.Helper()
	status, _, b := do(t, s, token, http.MethodPost, "/api/v2/"+stream, body)
	if status != http.StatusOK {
		t.Fatalf("POST %s %s: status %d body %s", stream, body, status, b)
	}
	var p page
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("decode page: %v\n%s", err, b)
	}
	if p.Cursor == "" || p.Items == nil {
		t.Fatalf("page lacks cursor or items: %s", b)
	}
	return p
}

// expectError expects a v2 error body with the given status.
func expectError(t testing.TB, s *Server, token, method, path, body string, want int) apiError {
	t.Helper()
	status, h, b := do(t, s, token, method, path, body)
	if status != want {
		t.Fatalf("%s %s %s: status %d, want %d (body %s)", method, path, body, status, want, b)
	}
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil || e.Status != want || e.Message == "" {
		t.Fatalf("error body %q is not {\"status\":%d,\"message\":...} (%v)", b, want, err)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	return e
}

func cursorBody(c string) string {
	b, _ := json.Marshal(map[string]string{"cursor": c})
	return string(b)
}

type eventHead struct {
	UUID      string `json:"uuid"`
	Timestamp string `json:"timestamp"`
}

func heads(t testing.TB, items []json.RawMessage) []eventHead {
	t.Helper()
	out := make([]eventHead, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i]); err != nil {
			t.Fatalf("item %d: %v\n%s", i, err, it)
		}
	}
	return out
}

func ids(t testing.TB, items []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, h := range heads(t, items) {
		out = append(out, h.UUID)
	}
	return out
}

// drain pages from body until has_more=false, returning the items and the
// last cursor.
func drain(t testing.TB, s *Server, token, stream, body string) ([]json.RawMessage, string) {
	t.Helper()
	var all []json.RawMessage
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("paging does not terminate")
		}
		p := fetch(t, s, token, stream, body)
		all = append(all, p.Items...)
		if !p.HasMore {
			return all, p.Cursor
		}
		body = cursorBody(p.Cursor)
	}
}

func ts(t time.Time) string { return t.Format(time.RFC3339Nano) }

func mustContain(t testing.TB, haystack []byte, needle string) {
	t.Helper()
	if !bytes.Contains(haystack, []byte(needle)) {
		t.Fatalf("%q not found in %s", needle, haystack)
	}
}
