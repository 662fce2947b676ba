package cortexxdr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/logx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
)

func someAlerts(e *env, n int) []string {
	var specs []cortexxdrtest.AlertSpec
	for i := 0; i < n; i++ {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: t0.Add(-2*time.Hour + time.Duration(i)*time.Second)})
	}
	return e.sim.AddAlerts(testFQDN, specs)
}

func TestAdvancedKeySignsEveryAttemptAfresh(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	ids := someAlerts(e, 30)
	e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: cortexxdrtest.FaultInternalError, Count: 2, AfterAuth: true})
	e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: cortexxdrtest.FaultConnectionReset})
	mustSucceed(t, e.run(context.Background(), StreamAlerts))
	if d := delivered(t, e.sink); len(d["alert"]) != len(ids) {
		t.Fatalf("delivered %d of %d", len(d["alert"]), len(ids))
	}
	reqs := e.sim.Requests()
	if len(reqs) != 4 || reqs[3].Status != http.StatusOK {
		t.Fatalf("want 3 failed attempts and a success, got %d requests", len(reqs))
	}
	nonces := map[string]bool{}
	var last int64
	for _, r := range reqs {
		// Each attempt reached the server with its own nonce and a
		// timestamp no older than the attempt: the server verified every
		// one of them (a replay or stale timestamp answers 401).
		if len(r.Nonce) != 64 || nonces[r.Nonce] || r.KeyID != e.keyID {
			t.Fatalf("attempt with nonce %q (seen before: %v), key id %q", r.Nonce, nonces[r.Nonce], r.KeyID)
		}
		nonces[r.Nonce] = true
		ts := mustInt(t, r.Timestamp)
		if ts < last || ts > r.Time.UnixMilli() {
			t.Fatalf("timestamp %d after %d, at %v", ts, last, r.Time)
		}
		last = ts
	}
	// Retries paused the tenant on the simulated clock (1 s, then 2 s, 4 s).
	if gap := reqs[3].Time.Sub(reqs[0].Time); gap < 7*time.Second {
		t.Fatalf("retries came %v after the first attempt: no backoff on the tenant's pacer", gap)
	}
}

func mustInt(t testing.TB, s string) int64 {
	t.Helper()
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("%q is not a number", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// A client that signs once per request and lets its HTTP client retry
// resends the same nonce: the simulator refuses the retry, as the API does.
func TestSigningOncePerRequestIsRefusedOnRetry(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	e.sim.Inject(cortexxdrtest.Fault{Kind: cortexxdrtest.FaultInternalError, AfterAuth: true})
	cr, err := parseCredentials(e.creds, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if err := sign(h, cr, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	host := "api-" + testFQDN
	_, err = e.cfg.HTTP.Do(context.Background(), &httpx.Request{Method: "POST", URL: e.sim.URL + PathAlertsForTest, Header: h,
		Body: []byte(`{"request_data":{}}`), Prepare: func(r *http.Request) error { r.Host = host; return nil }})
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusUnauthorized {
		t.Fatalf("retry with a reused nonce: %v", err)
	}
	if reqs := e.sim.Requests(); len(reqs) != 2 || reqs[1].ErrMsg != "Public API request unauthorized" {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestStandardKeyIsSentAsGiven(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{Standard: true})
	ids := someAlerts(e, 5)
	mustSucceed(t, e.run(context.Background(), StreamAlerts))
	if d := delivered(t, e.sink); len(d["alert"]) != len(ids) {
		t.Fatalf("delivered %d of %d", len(d["alert"]), len(ids))
	}
	// The seed sent SHA-256(key) for standard keys; the API wants the key.
	sum := sha256.Sum256([]byte(e.key))
	e.creds[FieldAPIKey] = hex.EncodeToString(sum[:])
	e.sink = &recordingSink{}
	e.clock.Advance(time.Hour)
	res := e.run(context.Background(), StreamAlerts)
	errs := errorLines(t, e.sink)
	if res[0].Success || len(errs) != 1 || errs[0].xdr["error_code"] != pipeline.CodeHTTP401 {
		t.Fatalf("the seed's hashed standard key was accepted: %v %v", res, errs)
	}
}

func TestUnauthorizedExplainsKeyAndClock(t *testing.T) {
	for _, tc := range []struct {
		name     string
		skew     time.Duration
		wrongKey bool
		want     []string
	}{
		{"wrong key", 0, true, []string{"(XDR_API_KEY_ID; XDR_API_KEY)", "check this host's clock", "security level (XDR_SECURITY_LEVEL)"}},
		{"clock off", -10 * time.Minute, false, []string{"check this host's clock", "differs from the API's by about -10m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, cortexxdrtest.Options{Skew: tc.skew}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
			someAlerts(e, 3)
			if tc.wrongKey {
				e.creds[FieldAPIKey] = "not-the-key"
			}
			var logs bytes.Buffer
			e.cfg.Logger = logx.New(&logs, slog.LevelDebug, e.red)
			res := e.run(context.Background())
			errs := errorLines(t, e.sink)
			if len(errs) != 2 || res[0].Success || res[1].Success {
				t.Fatalf("want an error per stream, got %d: %v", len(errs), res)
			}
			for _, el := range errs {
				msg, _ := el.xdr["error_message"].(string)
				if el.xdr["error_code"] != pipeline.CodeHTTP401 || el.xdr["error_source"] == nil {
					t.Fatalf("error event %s", el.raw)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Fatalf("message %q lacks %q", msg, w)
					}
				}
				noSecret(t, "error event", el.raw, e.key)
			}
			noSecret(t, "logs", logs.Bytes(), e.key)
		})
	}
}

// A page whose body is slow to arrive says nothing about the clocks: the
// API stamped its Date before the headers went out. Timed at the end of
// the body, a page 3 s slow reads as "this host's clock is about 3s
// ahead", in the check report and in the 401 hint (and pulls the window
// bound back). Both sides run on the real clock, as the body's slowness
// is real time.
func TestSlowBodyIsNotTakenForClockSkew(t *testing.T) {
	// learnSkew ignores differences under 2 s, and the Date header's
	// one-second precision moves the estimate by at most half a second: a
	// body 3 s slow is always taken for skew when timed at its end.
	const bodyDelay = 3 * time.Second
	realClock := func(t *testing.T) *env {
		e := newEnv(t, cortexxdrtest.Options{Now: time.Now}, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
		e.cfg.Now, e.cfg.Sleep = time.Now, nil
		return e
	}
	t.Run("check", func(t *testing.T) {
		t.Parallel()
		e := realClock(t)
		// The report keeps what the last answer told: the incidents
		// endpoint is asked last.
		e.sim.Inject(cortexxdrtest.Fault{Stream: "incidents", Kind: cortexxdrtest.FaultSlowBody, Delay: bodyDelay})
		start := time.Now()
		rep := e.collector().Check(context.Background())
		took := time.Since(start)
		reqs := e.sim.Requests()
		if last := reqs[len(reqs)-1]; !rep.OK() || last.Path != cortexxdrtest.PathIncidents || !slices.Contains(last.Faults, cortexxdrtest.FaultSlowBody) || took < bodyDelay {
			t.Fatalf("report %+v after %v; the last request %s met faults %v: want a good report whose last answer was the slow one", rep, took, last.Path, last.Faults)
		}
		if rep.ClockSkew != 0 {
			t.Fatalf("clock skew %v reported for a body %v slow", rep.ClockSkew, bodyDelay)
		}
	})
	t.Run("401 hint", func(t *testing.T) {
		t.Parallel()
		e := realClock(t)
		e.creds[FieldAPIKey] = "not-the-key"
		e.sim.Inject(cortexxdrtest.Fault{Stream: "alerts", Kind: cortexxdrtest.FaultSlowBody, Delay: bodyDelay})
		res := e.run(context.Background(), StreamAlerts)
		errs := errorLines(t, e.sink)
		if res[0].Success || len(errs) != 1 || errs[0].xdr["error_code"] != pipeline.CodeHTTP401 || e.sim.FaultsFired(cortexxdrtest.FaultSlowBody) != 1 {
			t.Fatalf("result %+v, %d error events, slow body fired %d times: want one 401 answered slowly", res[0], len(errs), e.sim.FaultsFired(cortexxdrtest.FaultSlowBody))
		}
		if msg, _ := errs[0].xdr["error_message"].(string); !strings.Contains(msg, "check this host's clock") || strings.Contains(msg, "differs from the API's") {
			t.Fatalf("message %q: want the clock hint without a measured difference", msg)
		}
	})
}

// rotating serves the old key until invalidated after a 401, then the
// new one, as a rotated Secrets Manager secret does.
type rotating struct {
	mu          sync.Mutex
	old, fresh  secrets.Credentials
	invalidated bool
}

func (r *rotating) Get(context.Context) (secrets.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.invalidated {
		return r.fresh, nil
	}
	return r.old, nil
}

func (r *rotating) Invalidate() {
	r.mu.Lock()
	r.invalidated = true
	r.mu.Unlock()
}

func TestRotatedKeyIsReReadAfter401(t *testing.T) {
	e := newEnv(t, cortexxdrtest.Options{}, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	ids := someAlerts(e, 4)
	newID, newKey := e.sim.AddKey(testFQDN, cortexxdrtest.Key{})
	e.sim.DeleteKey(testFQDN, e.keyID)
	fresh := secrets.Credentials{FieldFQDN: testFQDN, FieldAPIKeyID: newID, FieldAPIKey: newKey}
	c, err := New(e.cfg, "default", &rotating{old: e.creds, fresh: fresh})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := pipeline.New(pipeline.Config{Envelope: Envelope(), EpochMillis: EpochMillis(), RunID: "r", Store: e.store, Sink: e.sink, Now: e.clock.Now})
	mustSucceed(t, r.Run(context.Background(), e.streams(c, nil, StreamAlerts)))
	if d := delivered(t, e.sink); len(d["alert"]) != len(ids) {
		t.Fatalf("delivered %d of %d", len(d["alert"]), len(ids))
	}
}
