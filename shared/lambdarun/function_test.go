package lambdarun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/logx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func ctx(t *testing.T) context.Context { return awstest.Context(t, time.Minute) }

// fakeSource serves events "e-0" … "e-<n-1>" in pages, with a cursor
// {"next":i}. It can fail, stall, or pause before each page.
type fakeSource struct {
	total, page int
	delay       time.Duration
	failAt      int // page number that fails (0: none)
	stallAt     int // page number that blocks until ctx ends (0: none)
	fetched     chan int

	next      int
	pages     int
	deadlines []time.Time // each Fetch's context deadline
}

func (s *fakeSource) Start(_ context.Context, rec state.Record) error {
	if len(rec.Cursor) > 0 {
		var c struct{ Next int }
		if err := json.Unmarshal(rec.Cursor, &c); err != nil {
			return err
		}
		s.next = c.Next
	}
	return nil
}

func (s *fakeSource) Fetch(ctx context.Context) (*pipeline.Page, error) {
	s.pages++
	if d, ok := ctx.Deadline(); ok {
		s.deadlines = append(s.deadlines, d)
	}
	if s.fetched != nil {
		select {
		case s.fetched <- s.pages:
		default:
		}
	}
	if s.pages == s.stallAt {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.pages == s.failAt {
		return nil, &pipeline.Error{Code: pipeline.CodeHTTP500, Message: "vendor answered 500"}
	}
	end := min(s.next+s.page, s.total)
	p := &pipeline.Page{}
	for i := s.next; i < end; i++ {
		p.Items = append(p.Items, pipeline.Item{
			Raw:  []byte(fmt.Sprintf(`{"id":"e-%d","n":%d}`, i, i)),
			Type: "test_event",
			Key:  fmt.Sprintf("e-%d", i),
			Time: time.Now().Add(-time.Minute),
		})
	}
	s.next = end
	p.Cursor = json.RawMessage(fmt.Sprintf(`{"next":%d}`, s.next))
	p.More = s.next < s.total
	return p, nil
}

type fixture struct {
	t       *testing.T
	db      *dynamodb.Client
	sm      *secretsmanager.Client
	table   string
	down    *rsyslogtest.Downstream
	logs    *syncBuffer
	metrics *syncBuffer
	red     *redact.Redactor
}

func newFixture(t *testing.T) *fixture {
	moto := awstest.SharedMoto(t)
	f := &fixture{
		t:       t,
		db:      awstest.DynamoDB(t, moto.Endpoint),
		sm:      awstest.SecretsManager(t, moto.Endpoint),
		table:   awstest.UniqueName(t, "state"),
		down:    rsyslogtest.StartDownstream(t, true),
		logs:    &syncBuffer{},
		metrics: &syncBuffer{},
		red:     redact.New(),
	}
	if err := dynamostore.CreateTable(ctx(t), f.db, f.table); err != nil {
		t.Fatal(err)
	}
	return f
}

// function builds a Function whose vendor serves src; set overrides
// environment variables.
func (fx *fixture) function(src *fakeSource, set map[string]string) *Function {
	fx.t.Helper()
	env := map[string]string{
		EnvStateTable: fx.table,
		EnvSyslogURL:  "tcp://" + fx.down.Addr(),
		EnvRateLimit:  "-1",
	}
	for k, v := range set {
		env[k] = v
	}
	v := testVendor(func(context.Context, spec.Params, string) (pipeline.Source, error) { return src, nil })
	cfg, err := LoadConfig(v, getenv(env))
	if err != nil {
		fx.t.Fatal(err)
	}
	f, err := New(v, cfg, fx.db, fx.sm, Options{
		Logger:   logx.New(fx.logs, cfg.LogLevel, fx.red),
		Redactor: fx.red,
		Metrics:  fx.metrics,
	})
	if err != nil {
		fx.t.Fatal(err)
	}
	return f
}

func (fx *fixture) version(stream string) int64 {
	fx.t.Helper()
	l, err := dynamostore.New(fx.db, fx.table).Lock(ctx(fx.t), state.Key{Tenant: "acme", Vendor: "testvendor", Stream: stream}, state.LockOptions{Owner: "test", TTL: time.Minute})
	if err != nil {
		fx.t.Fatal(err)
	}
	defer l.Release(ctx(fx.t))
	rec, err := l.Load(ctx(fx.t))
	if err != nil {
		fx.t.Fatal(err)
	}
	return rec.Version
}

// emf returns the metric lines written so far.
func (fx *fixture) emf() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(fx.metrics.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			fx.t.Fatalf("metrics line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestHandleDeliversCommitsAndReports(t *testing.T) {
	fx := newFixture(t)
	f := fx.function(&fakeSource{total: 250, page: 100}, nil)
	out, err := f.Handle(ctx(t), Input{Stream: "alpha", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Success || out.Events != 250 || out.Pages != 3 || !out.CursorAdvanced || out.Backlog || out.Stop != "caught_up" || !out.SummaryDelivered {
		t.Fatalf("output = %+v", out)
	}
	if v := fx.version("alpha"); v != 3 {
		t.Errorf("record version %d, want 3", v)
	}
	lines, err := fx.down.WaitLines(251, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lines[250], `"event_type":"run_summary"`) || !strings.Contains(lines[250], `"alpha_events":250`) {
		t.Errorf("last line = %s", lines[250])
	}
	m := fx.emf()
	if len(m) != 1 {
		t.Fatalf("%d EMF lines", len(m))
	}
	cw := m[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	dims, _ := json.Marshal(cw["Dimensions"])
	if string(dims) != `[["vendor","stream"]]` || cw["Namespace"] != "WazuhPull" {
		t.Errorf("EMF directive = %v", cw)
	}
	for k, want := range map[string]any{"Events": 250.0, "Failed": 0.0, "Pages": 3.0, "Errors": 0.0, "Backlog": 0.0, "locked": false, "vendor": "testvendor", "tenant": "acme", "stream": "alpha", "run_id": out.RunID} {
		if m[0][k] != want {
			t.Errorf("EMF %s = %v, want %v", k, m[0][k], want)
		}
	}
	if lag, ok := m[0]["LagSeconds"].(float64); !ok || lag < 59 || lag > 120 {
		t.Errorf("LagSeconds = %v, want about 60", m[0]["LagSeconds"])
	}
	if !strings.Contains(fx.logs.String(), `"msg":"stream done"`) {
		t.Errorf("no 'stream done' log line: %s", fx.logs.String())
	}
}

func TestHandleLockedIsACleanExit(t *testing.T) {
	fx := newFixture(t)
	f := fx.function(&fakeSource{total: 10, page: 10}, nil)
	key := state.Key{Tenant: "acme", Vendor: "testvendor", Stream: "alpha"}
	held, err := dynamostore.New(fx.db, fx.table).Lock(ctx(t), key, state.LockOptions{Owner: "other-invocation", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.Handle(ctx(t), Input{Stream: "alpha", Tenant: "acme"})
	if err != nil {
		t.Fatalf("a locked stream returned an error: %v", err)
	}
	if !out.Locked || out.Ran || !out.Success || out.Stop != "locked" || out.Events != 0 || out.CursorAdvanced {
		t.Fatalf("output = %+v", out)
	}
	if m := fx.emf(); m[0]["locked"] != true || m[0]["Errors"] != 0.0 {
		t.Errorf("EMF = %v", m[0])
	}
	if !strings.Contains(fx.logs.String(), "another invocation holds its lease") {
		t.Errorf("logs = %s", fx.logs.String())
	}
	lines, _ := fx.down.WaitLines(1, 5*time.Second)
	if len(lines) != 1 || !strings.Contains(lines[0], `"alpha_stop":"locked"`) {
		t.Errorf("lines = %v", lines)
	}
	held.Release(ctx(t))
	if out, err := f.Handle(ctx(t), Input{Stream: "alpha", Tenant: "acme"}); err != nil || out.Events != 10 {
		t.Fatalf("after release: %+v, %v", out, err)
	}
}

func TestHandleFailureIsAnInvocationError(t *testing.T) {
	fx := newFixture(t)
	f := fx.function(&fakeSource{total: 300, page: 100, failAt: 2}, nil)
	out, err := f.Handle(ctx(t), Input{Stream: "beta", Tenant: "acme"})
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *RunError", err)
	}
	if out.Success || out.Events != 100 || !out.CursorAdvanced || len(out.Errors) != 1 || out.Errors[0] != pipeline.CodeHTTP500 {
		t.Fatalf("output = %+v", out)
	}
	if !strings.Contains(err.Error(), "acme/testvendor/beta failed (API_HTTP_500)") {
		t.Errorf("error message = %q", err)
	}
	if v := fx.version("beta"); v != 1 {
		t.Errorf("version %d: the delivered first page must be committed", v)
	}
	m := fx.emf()[0]
	if m["Errors"] != 1.0 || m["Errors_API_HTTP_500"] != 1.0 || m["Failed"] != 1.0 || m["success"] != false {
		t.Errorf("EMF = %v", m)
	}
	lines, _ := fx.down.WaitLines(102, 5*time.Second)
	if !strings.Contains(strings.Join(lines, "\n"), `"error_code":"API_HTTP_500"`) {
		t.Errorf("no error event delivered")
	}
}

// The checks do not depend on the machine's speed: every fetch is bounded
// by the invocation's deadline minus the margin (so none can run into
// it), and the run reports that it stopped for that reason.
func TestHandleStopsAtTheDeadlineMargin(t *testing.T) {
	const margin = time.Second
	fx := newFixture(t)
	src := &fakeSource{total: 1_000_000, page: 10, delay: 50 * time.Millisecond}
	f := fx.function(src, map[string]string{EnvDeadlineMargin: margin.String()})
	// Three margins: two to fetch in (after taking the lease and reading
	// the record from moto), one to finish in. (A margin over half the
	// invocation would be cut to half, see the next test.)
	c, cancel := context.WithTimeout(ctx(t), 3*margin)
	defer cancel()
	invocationDeadline, _ := c.Deadline()
	out, err := f.Handle(c, Input{Stream: "alpha", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Stop != "deadline" || !out.Backlog || !out.Success || out.Pages == 0 || !out.SummaryDelivered {
		t.Fatalf("output = %+v", out)
	}
	want := invocationDeadline.Add(-margin)
	if len(src.deadlines) == 0 {
		t.Fatal("no fetch")
	}
	for i, d := range src.deadlines {
		if !d.Equal(want) {
			t.Fatalf("fetch %d ran with deadline %v; want the invocation's deadline minus the margin, %v", i+1, d, want)
		}
	}
	if v := fx.version("alpha"); v != out.Pages {
		t.Errorf("version %d after %d delivered pages", v, out.Pages)
	}
}

// TestHandleStopsPacedBeforeTheDeadline gives the invocation a syslog
// share of 200 events a second and pages of 300: each page is held back
// by the limit, and the run stops at a page boundary, committed, when the
// next page could not leave before fetching must stop.
func TestHandleStopsPacedBeforeTheDeadline(t *testing.T) {
	fx := newFixture(t)
	src := &fakeSource{total: 100_000, page: 300}
	f := fx.function(src, map[string]string{EnvSyslogBudget: "1000", EnvSyslogShares: "5", EnvDeadlineMargin: "1s"})
	// Fetching may go on for 3 s: at 200 a second, about 600 events
	// (a bucket of 200 to start with, then 1.5 s per page).
	c, cancel := context.WithTimeout(ctx(t), 4*time.Second)
	defer cancel()
	start := time.Now()
	out, err := f.Handle(c, Input{Stream: "alpha", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Stop != pipeline.StopPaced || !out.Backlog || !out.Success || out.Events == 0 || out.Events%300 != 0 || !out.SummaryDelivered {
		t.Fatalf("output = %+v", out)
	}
	if out.SyslogEventsPerSecond != 200 || out.PacedMs <= 0 {
		t.Errorf("output reports %v events a second and %d ms held back; want 200 and some", out.SyslogEventsPerSecond, out.PacedMs)
	}
	took := time.Since(start)
	// What went out, went out within the limit (the bucket's 200 at once).
	if rate := float64(out.Events-200) / took.Seconds(); rate > 200 {
		t.Errorf("%d events in %v: %.0f a second beyond the first bucket, over the 200 limit", out.Events, took, rate)
	}
	if v := fx.version("alpha"); v != out.Pages {
		t.Errorf("version %d after %d delivered pages", v, out.Pages)
	}
	lines, err := fx.down.WaitLines(int(out.Events)+1, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, `"alpha_stop":"paced"`) || !strings.Contains(last, `"alpha_paced_ms":`) {
		t.Errorf("run_summary = %s", last)
	}
}

// A margin of five minutes in a short invocation is cut to half the time
// left, so the fetches still get a deadline, between the invocation's
// start plus half its length and its end.
func TestHandleKeepsHalfTheInvocationWhenTheMarginIsTooLarge(t *testing.T) {
	const invocation = 4 * time.Second
	fx := newFixture(t)
	src := &fakeSource{total: 1_000_000, page: 10, delay: 100 * time.Millisecond}
	f := fx.function(src, map[string]string{EnvDeadlineMargin: "5m"})
	start := time.Now()
	c, cancel := context.WithTimeout(ctx(t), invocation)
	defer cancel()
	invocationDeadline, _ := c.Deadline()
	out, err := f.Handle(c, Input{Stream: "alpha", Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Stop != "deadline" || out.Pages == 0 {
		t.Fatalf("a margin larger than the invocation must not stop all progress: %+v", out)
	}
	earliest := invocationDeadline.Add(-invocationDeadline.Sub(start) / 2)
	for i, d := range src.deadlines {
		if d.Before(earliest) || !d.Before(invocationDeadline) {
			t.Fatalf("fetch %d ran with deadline %v; want it in [%v, %v)", i+1, d.Format(time.StampMicro), earliest.Format(time.StampMicro), invocationDeadline.Format(time.StampMicro))
		}
	}
	if !strings.Contains(fx.logs.String(), "the deadline margin leaves less than half of the invocation") {
		t.Errorf("no warning logged: %s", fx.logs.String())
	}
}

// TestShutdownCommitsDeliveredPagesAndReleases plays Lambda's SIGTERM in
// the middle of a run: the run stops, the pages already delivered stay
// committed, the lease is released (the next invocation need not wait for
// it to expire), and the sink is closed.
func TestShutdownCommitsDeliveredPagesAndReleases(t *testing.T) {
	fx := newFixture(t)
	src := &fakeSource{total: 1000, page: 100, stallAt: 4, fetched: make(chan int, 8)}
	f := fx.function(src, nil)
	type result struct {
		out Output
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := f.Handle(ctx(t), Input{Stream: "alpha", Tenant: "acme"})
		done <- result{out, err}
	}()
	for n := range src.fetched {
		if n == 4 {
			break
		}
	}
	f.Shutdown()
	r := <-done
	if !errors.Is(r.err, errShutdown) {
		t.Fatalf("err = %v, want the shutdown cause", r.err)
	}
	if r.out.Events != 300 || r.out.Pages != 3 || r.out.Stop != "interrupted" || !r.out.Backlog {
		t.Fatalf("output = %+v", r.out)
	}
	if v := fx.version("alpha"); v != 3 {
		t.Errorf("version %d, want 3", v)
	}
	// version() took and released the lease: it was free.
	f.Shutdown() // idle: nothing to do, must not block or panic
}

func TestHandleReadsTheSyslogTLSSecret(t *testing.T) {
	fx := newFixture(t)
	id := awstest.UniqueName(t, "tls")
	if _, err := fx.sm.CreateSecret(ctx(t), &secretsmanager.CreateSecretInput{
		Name:         aws.String(id),
		SecretString: aws.String(`{"ca_pem":"not a certificate","client_key_pem":"KEY-MATERIAL-CANARY","colour":"blue"}`),
	}); err != nil {
		t.Fatal(err)
	}
	f := fx.function(&fakeSource{total: 1, page: 1}, map[string]string{EnvSyslogURL: "tls://" + fx.down.Addr(), EnvSyslogTLSSecret: id})
	_, err := f.Handle(ctx(t), Input{Stream: "alpha", Tenant: "acme"})
	if err == nil || !strings.Contains(err.Error(), "unknown fields colour") {
		t.Fatalf("err = %v", err)
	}
	if _, err := fx.sm.PutSecretValue(ctx(t), &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(id),
		SecretString: aws.String(`{"ca_pem":"not a certificate","client_key_pem":"KEY-MATERIAL-CANARY"}`),
	}); err != nil {
		t.Fatal(err)
	}
	f = fx.function(&fakeSource{total: 1, page: 1}, map[string]string{EnvSyslogURL: "tls://" + fx.down.Addr(), EnvSyslogTLSSecret: id})
	_, err = f.Handle(ctx(t), Input{Stream: "alpha", Tenant: "acme"})
	if err == nil || !strings.Contains(err.Error(), "syslog sink") {
		t.Fatalf("err = %v", err)
	}
	for what, text := range map[string]string{"error": err.Error(), "logs": fx.logs.String(), "metrics": fx.metrics.String()} {
		if strings.Contains(text, "KEY-MATERIAL-CANARY") {
			t.Errorf("%s shows the key material: %s", what, text)
		}
	}
}

// TestHungInvocationFreesItsStreamWithinAMinute: an invocation stuck on a
// page (and then killed) holds its stream's lease for about a minute after
// its last renewal, not for its whole timeout: another invocation may not
// take the stream 59 s after it was locked, but may 70 s from now (a
// renewal landing meanwhile moves the expiry by at most the time the
// check takes; 10 s leave room for a slow machine).
func TestHungInvocationFreesItsStreamWithinAMinute(t *testing.T) {
	fx := newFixture(t)
	src := &fakeSource{total: 10, page: 10, stallAt: 1, fetched: make(chan int, 1)}
	f := fx.function(src, nil)
	// A 300-second invocation, as the template configures.
	ictx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	done := make(chan struct{})
	locking := time.Now()
	go func() {
		defer close(done)
		f.Handle(ictx, Input{Stream: "alpha", Tenant: "acme"})
	}()
	select {
	case <-src.fetched:
	case <-ctx(t).Done():
		t.Fatal("the invocation never fetched")
	}
	key := state.Key{Tenant: "acme", Vendor: "testvendor", Stream: "alpha"}
	takeOver := func(after time.Duration) error {
		at := time.Now().Add(after)
		l, err := dynamostore.New(fx.db, fx.table, dynamostore.WithClock(func() time.Time { return at })).Lock(ctx(t), key, state.LockOptions{Owner: "next", TTL: time.Minute})
		if err == nil {
			l.Release(ctx(t))
		}
		return err
	}
	// While the page hangs, the lease runs about a minute from its last
	// renewal (at most a third of that ago).
	if err := takeOver(59*time.Second - time.Since(locking)); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("another invocation could take the stream 59 s after the hung one locked it: %v", err)
	}
	if err := takeOver(70 * time.Second); err != nil {
		t.Fatalf("another invocation could not take the stream 70 s after the hung one's last renewal, as if it had been killed: %v", err)
	}
	cancel()
	<-done
}
