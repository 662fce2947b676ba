package quota

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func mustNew(t testing.TB, limit int, window, bucket time.Duration) *Rolling {
	t.Helper()
	r, err := New(limit, window, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRollingWindowCountsAndRefills(t *testing.T) {
	r := mustNew(t, 10, 24*time.Hour, 10*time.Minute)
	r.Spend(t0.Add(1*time.Minute), 4)  // bucket 12:00–12:10
	r.Spend(t0.Add(25*time.Minute), 5) // bucket 12:20–12:30
	if r.Used(t0.Add(time.Hour)) != 9 || r.Left(t0.Add(time.Hour)) != 1 {
		t.Fatalf("used %d left %d", r.Used(t0.Add(time.Hour)), r.Left(t0.Add(time.Hour)))
	}
	// The first requests count until 24 h after the end of their bucket.
	day := t0.Add(24 * time.Hour)
	if r.Used(day.Add(9*time.Minute)) != 9 || r.Used(day.Add(10*time.Minute)) != 5 {
		t.Fatalf("at +24h09 used %d, at +24h10 used %d", r.Used(day.Add(9*time.Minute)), r.Used(day.Add(10*time.Minute)))
	}
	if got := r.AvailableAt(t0.Add(time.Hour), 1); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("one request is available now, got %v", got)
	}
	if got := r.AvailableAt(t0.Add(time.Hour), 3); !got.Equal(day.Add(10 * time.Minute)) {
		t.Fatalf("three requests available at %v, want %v", got, day.Add(10*time.Minute))
	}
	if got := r.AvailableAt(t0.Add(time.Hour), 10); !got.Equal(day.Add(30 * time.Minute)) {
		t.Fatalf("the whole pool is back at %v, want %v", got, day.Add(30*time.Minute))
	}
	if !r.AvailableAt(t0, 11).IsZero() {
		t.Fatal("more than the limit is never available")
	}
}

// The counter never reports more left than an exact per-request count.
func TestNeverMoreGenerousThanExactCounting(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := mustNew(t, 1800, 24*time.Hour, 10*time.Minute)
	var exact []time.Time
	now := t0
	for range 5000 {
		now = now.Add(time.Duration(rng.IntN(900)) * time.Second)
		if rng.IntN(3) > 0 {
			r.Spend(now, 1)
			exact = append(exact, now)
		}
		// Round-trip through the stored form now and then, as every
		// page commit does.
		if rng.IntN(10) == 0 {
			raw, _ := json.Marshal(r)
			r2 := mustNew(t, 1800, 24*time.Hour, 10*time.Minute)
			if err := r2.Load(raw, now); err != nil {
				t.Fatal(err)
			}
			r = r2
		}
		n := 0
		for _, e := range exact {
			if e.Add(24 * time.Hour).After(now) {
				n++
			}
		}
		used := r.Used(now)
		if used < n || used > n+12 { // at most one bucket's worth of extra counting
			t.Fatalf("at %v: counted %d, exact %d", now, used, n)
		}
	}
	raw, _ := json.Marshal(r)
	if len(raw) > 600 {
		t.Fatalf("stored form is %d bytes, want a compact record: %s", len(raw), raw)
	}
}

func TestLoadRebucketsConservatively(t *testing.T) {
	fine := mustNew(t, 100, 24*time.Hour, 5*time.Minute)
	fine.Spend(t0.Add(2*time.Minute), 3)
	fine.Spend(t0.Add(7*time.Minute), 4)
	raw, _ := json.Marshal(fine)
	coarse := mustNew(t, 100, 24*time.Hour, time.Hour)
	if err := coarse.Load(raw, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if coarse.Used(t0.Add(24*time.Hour+59*time.Minute)) != 7 || coarse.Used(t0.Add(25*time.Hour)) != 0 {
		t.Fatal("rebucketed counts must expire no earlier than before, and then expire")
	}
}

func TestLoadRejectsBadInput(t *testing.T) {
	r := mustNew(t, 10, time.Hour, time.Minute)
	for _, raw := range []string{`{`, `{"b":0,"from":1,"n":[1]}`, `{"b":60,"from":1,"n":[-1]}`, `[]`} {
		if err := r.Load([]byte(raw), t0); err == nil {
			t.Errorf("Load(%s) accepted", raw)
		}
	}
	if _, err := New(0, time.Hour, time.Minute); err == nil {
		t.Error("zero limit accepted")
	}
	if _, err := New(1, time.Hour, 1500*time.Millisecond); err == nil {
		t.Error("fractional bucket accepted")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"b":600,"from":1740000000,"n":[2,2,0,3]}`), int64(1740000000))
	f.Add([]byte(`{"b":1,"from":-5,"n":[1]}`), int64(0))
	f.Fuzz(func(t *testing.T, raw []byte, at int64) {
		r := mustNew(t, 50, 24*time.Hour, 10*time.Minute)
		now := time.Unix(at%(1<<40), 0)
		if err := r.Load(raw, now); err != nil {
			return
		}
		if len(r.counts) > 2*144+3 {
			t.Fatalf("%d buckets kept for a 24 h window of 10 min buckets", len(r.counts))
		}
		if r.Used(now) < 0 || r.Left(now) > 50 {
			t.Fatalf("used %d left %d", r.Used(now), r.Left(now))
		}
		r.Spend(now, 1)
		if _, err := json.Marshal(r); err != nil {
			t.Fatal(err)
		}
	})
}
