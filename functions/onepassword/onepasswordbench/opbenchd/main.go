// Command opbenchd serves the realistic 1Password Events API pages of
// package onepasswordbench on a loopback port, in a process of its own so
// that a benchmark measuring the collector's CPU never counts the server's.
// It prints "LISTEN <url>" on stdout once it accepts connections and exits
// when its standard input closes (its parent died or is done).
//
// It answers POST /api/v2/{auditevents,signinattempts,itemusages} (a
// ResetCursor or a cursor body, pages of up to 1 000 events, has_more) and
// GET /api/v2/auth/introspect, for one bearer token, with no faults and no
// rate limit. Pages go out chunked (no Content-Length), as a streaming JSON
// encoder sends them, unless -content-length is set.
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordbench"
)

func main() {
	seed := flag.Uint64("seed", 1, "tenant seed")
	events := flag.Int("events", 100000, "events over the three streams")
	start := flag.Int64("start", 0, "time of the first event of each stream, Unix nanoseconds (default: enough before now for every event to be past)")
	step := flag.Duration("step", 300*time.Millisecond, "mean time between two events of a stream")
	token := flag.String("token", "", "the bearer token to accept")
	withLength := flag.Bool("content-length", false, "send Content-Length instead of a chunked body")
	flag.Parse()
	t0 := time.Unix(0, *start).UTC()
	if *start == 0 {
		perStream := (*events + 2) / 3
		t0 = time.Now().Add(-time.Duration(perStream+1)*(*step) - time.Minute).UTC()
	}
	g := onepasswordbench.NewGen(*seed, t0, *step, *events)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Printf("LISTEN http://%s\n", ln.Addr())
	s := &server{g: g, token: "Bearer " + *token, withLength: *withLength}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

type server struct {
	g          *onepasswordbench.Gen
	token      string
	withLength bool
	bufs       sync.Pool
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != s.token {
		fail(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if r.URL.Path == "/api/v2/auth/introspect" && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"uuid":"OPBENCHINTEGRATION000000000","issued_at":"2026-01-01T00:00:00Z","features":["auditevents","itemusages","signinattempts"]}`)
		return
	}
	stream := -1
	for i, name := range onepasswordbench.Streams {
		if r.URL.Path == "/api/v2/"+name {
			stream = i
		}
	}
	if stream < 0 || r.Method != http.MethodPost {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	var req struct {
		Cursor    *string `json:"cursor"`
		Limit     *int    `json:"limit"`
		StartTime *string `json:"start_time"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "invalid body")
		return
	}
	var next, limit int
	if req.Cursor != nil {
		var ok bool
		if next, limit, ok = decodeCursor(*req.Cursor, stream); !ok {
			fail(w, http.StatusBadRequest, "invalid cursor")
			return
		}
	} else {
		limit = 100
		if req.Limit != nil {
			limit = *req.Limit
		}
		if limit < 1 || limit > 1000 {
			fail(w, http.StatusBadRequest, "limit must be 1-1000")
			return
		}
		from := time.Now().Add(-time.Hour)
		if req.StartTime != nil {
			t, err := time.Parse(time.RFC3339Nano, *req.StartTime)
			if err != nil {
				fail(w, http.StatusBadRequest, "invalid start_time")
				return
			}
			from = t
		}
		next = s.g.Index(stream, from)
	}
	end := min(next+limit, s.g.Len())
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], `{"cursor":"`...)
	b = append(b, onepasswordbench.Cursor(stream, end, limit)...)
	b = append(b, `","has_more":`...)
	b = strconv.AppendBool(b, end < s.g.Len())
	b = append(b, `,"items":[`...)
	for i := next; i < end; i++ {
		if i > next {
			b = append(b, ',')
		}
		b = s.g.Append(b, stream, i)
	}
	b = append(b, "]}"...)
	w.Header().Set("Content-Type", "application/json")
	if s.withLength {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	}
	w.Write(b)
	*bp = b
	s.bufs.Put(bp)
}

func decodeCursor(c string, stream int) (next, limit int, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, 0, false
	}
	f := strings.Split(string(raw), ":")
	if len(f) != 4 || f[0] != "opb1" {
		return 0, 0, false
	}
	s, err1 := strconv.Atoi(f[1])
	next, err2 := strconv.Atoi(f[2])
	limit, err3 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil || err3 != nil || s != stream || next < 0 || limit < 1 || limit > 1000 {
		return 0, 0, false
	}
	return next, limit, true
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status":%d,"message":%q}`, status, msg)
}
