package spectest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
)

// Sim is the toy API: GET /whoami, and GET /events?stream=&after=&limit=
// serving events 1…N of a stream in order.
type Sim struct {
	*httptest.Server
	Key string

	mu     sync.Mutex
	counts map[string]int
}

// NewSim starts the toy API on loopback with n events in each stream.
func NewSim(key string, n int) *Sim {
	s := &Sim{Key: key, counts: map[string]int{"alpha": n, "beta": n}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Add appends n events to a stream.
func (s *Sim) Add(stream string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[stream] += n
}

func (s *Sim) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Key "+s.Key {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/whoami" {
		w.Write([]byte(`{"ok":true}`))
		return
	}
	q := r.URL.Query()
	after, _ := strconv.Atoi(q.Get("after"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	s.mu.Lock()
	total := s.counts[q.Get("stream")]
	s.mu.Unlock()
	var page struct {
		Events []map[string]any `json:"events"`
		Next   int              `json:"next"`
		More   bool             `json:"more"`
	}
	page.Events = []map[string]any{}
	for i := after + 1; i <= total && i <= after+limit; i++ {
		page.Events = append(page.Events, map[string]any{"id": i, "stream": q.Get("stream"), "msg": "toy event " + strconv.Itoa(i)})
	}
	page.Next = after + len(page.Events)
	page.More = page.Next < total
	json.NewEncoder(w).Encode(page)
}
