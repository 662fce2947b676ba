package casegen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/filestore"
)

// genNow is the fixed clock of every generator run, so that generated
// lines (timestamps, run summaries) are the same on every run.
var genNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return genNow }

// opRun describes one run of the 1Password collector, mirroring what
// localrun onepassword does: introspect the token, report an orchestrator
// error if that fails, run the granted streams through the pipeline, and
// end with a run summary.
type opRun struct {
	scenario  string
	sim       *onepasswordtest.Server
	token     string
	creds     secrets.Source // default: the token
	baseURL   string         // default: the simulator
	tenant    string
	store     state.Store // nil: a fresh state file per run
	refuse    bool        // the sink never confirms
	budget    pipeline.Budget
	attempt   time.Duration // HTTP attempt timeout (default 5 s)
	cancelAt  int           // the run is interrupted (as by SIGTERM) after this many delivered pages
	streams   []string      // default: all
	pageLimit int           // default: the collector's (1000)
	maxLine   int           // default: the sink's (59 999)
}

// opGen holds what the 1Password scenarios share.
type opGen struct {
	dir   string
	lines []*Line
	held  []state.Lease // locks "another collector" holds
}

func (g *opGen) add(scenario, origin string, lines []string) {
	for _, l := range lines {
		g.lines = append(g.lines, &Line{Event: l, Origin: origin, Scenario: scenario})
	}
}

// collect runs the collector once and returns the lines it wrote.
func (g *opGen) collect(ctx context.Context, r opRun) ([]string, error) {
	rec := &recorder{refuse: r.refuse}
	if r.tenant == "" {
		r.tenant = "default"
	}
	store := r.store
	if store == nil {
		fs, err := filestore.New(filepath.Join(g.dir, r.scenario, "state.json"))
		if err != nil {
			return nil, err
		}
		store = fs
	}
	runner, err := pipeline.New(pipeline.Config{
		Envelope: onepassword.Envelope(), RunID: "gen-" + r.scenario, Store: store, Sink: rec,
		Budget: r.budget, FinishTimeout: time.Second, Now: fixedClock, MaxLine: r.maxLine,
	})
	if err != nil {
		return nil, err
	}
	c, err := g.collector(r)
	if err != nil {
		// localrun reports an invalid collector configuration the same way.
		runner.WriteError(ctx, r.tenant, "orchestrator", &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid 1Password configuration", Err: err})
		return rec.lines, nil
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.cancelAt > 0 {
		rec.afterConfirm = func(n int) {
			if n == r.cancelAt {
				cancel()
			}
		}
	}
	defs, err := planStreams(ctx, c, r.streams)
	var streams []pipeline.Stream
	if err != nil {
		runner.WriteError(ctx, r.tenant, "orchestrator", err)
	}
	switch pipeline.CodeOf(err) {
	case pipeline.CodeMissingCredential, pipeline.CodeConfig, pipeline.CodeHTTP401:
		defs = nil // every stream would fail the same way
	}
	for _, def := range defs {
		key := state.Key{Tenant: r.tenant, Vendor: onepassword.Vendor, Stream: def.Name}
		streams = append(streams, pipeline.Stream{Key: key, Name: def.Name, Source: c.NewSource(def, onepassword.Legacy{})})
	}
	results := runner.Run(runCtx, streams)
	// A sink that cannot confirm cannot confirm the summary either; like
	// localrun, the run goes on (the summary was still written).
	if err := runner.WriteSummary(runCtx, pipeline.SummaryInput{Streams: onepassword.StreamNames(), Results: results, Tenant: r.tenant}); err != nil && !r.refuse {
		return nil, err
	}
	return rec.lines, nil
}

func (g *opGen) collector(r opRun) (*onepassword.Collector, error) {
	attempt := r.attempt
	if attempt == 0 {
		attempt = 5 * time.Second
	}
	hc, err := httpx.New(httpx.Config{AttemptTimeout: attempt, MaxAttempts: 2, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	base := r.baseURL
	if base == "" {
		base = r.sim.URL
	}
	creds := r.creds
	if creds == nil {
		creds = secrets.Static{onepassword.FieldBearerToken: r.token}
	}
	return onepassword.New(onepassword.Config{BaseURL: base, HTTP: hc, PageLimit: r.pageLimit, Lookback: 4 * time.Hour, Now: fixedClock}, r.tenant, creds)
}

// planStreams is localrun's plan: the requested streams the token's
// features allow; all requested ones when introspection fails otherwise.
func planStreams(ctx context.Context, c *onepassword.Collector, names []string) ([]onepassword.StreamDef, error) {
	var requested []onepassword.StreamDef
	for _, def := range onepassword.Streams() {
		if len(names) == 0 || contains(names, def.Name) {
			requested = append(requested, def)
		}
	}
	features, err := c.Introspect(ctx)
	if err != nil {
		return requested, err
	}
	var out []onepassword.StreamDef
	for _, def := range requested {
		if contains(features, def.Feature) {
			out = append(out, def)
		}
	}
	return out, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// newOPSim is a simulator on the fixed clock with one account.
func newOPSim(seed int64, a onepasswordtest.Account) (*onepasswordtest.Server, string) {
	sim := onepasswordtest.New(onepasswordtest.Options{Now: fixedClock, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	a.Seed = seed
	return sim, sim.AddAccount("acme", a)
}

// Sizes of the bulk run: enough sign-ins that some address fails five
// times and some user three times, enough item usages for export and
// reveal bursts by one user.
const (
	opAudits    = 3000
	opSignins   = 12000
	opItemUsage = 6000
)

// auditVariants are audit events with action and object codes that the
// seed's rules match but the simulator's generator does not draw (the API
// has about 80 action codes): a generated event with only those two
// members changed is ingested into the simulator and collected like any
// other. count is how many (correlation cases need several).
var auditVariants = []struct {
	action, object string
	count          int
}{
	{"update", "p", 3},
	{"grant", "va", 1},
	{"create", "sa", 1},
	{"recover", "user", 1},
	{"update", "fw", 1},
	{"update", "stripe", 1},
	{"sdvcsso", "sso", 1},
	{"changemp", "user", 1},
	{"trevoke", "ssotkn", 1},
	{"dsblmfa", "user", 1},
}

// signinVariants are sign-in categories the documentation does not list
// yet (the API adds values): the rules must still report them.
var signinVariants = []string{"future_category"}

// ingestVariant ingests a copy of generated event seq with member
// replacements (old → new byte strings) and a new uuid.
func ingestVariant(sim *onepasswordtest.Server, stream string, seq int, uuid string, repl ...string) error {
	raw := sim.Event("acme", stream, seq)
	oldUUID := raw[len(`{"uuid":"`) : len(`{"uuid":"`)+26]
	raw = bytes.Replace(raw, oldUUID, []byte(uuid), 1)
	for i := 0; i+1 < len(repl); i += 2 {
		if !bytes.Contains(raw, []byte(repl[i])) {
			return fmt.Errorf("event %d of %s has no %s", seq, stream, repl[i])
		}
		raw = bytes.Replace(raw, []byte(repl[i]), []byte(repl[i+1]), 1)
	}
	sim.Ingest("acme", stream, raw)
	return nil
}

// GenerateOnePassword runs the 1Password collector against its simulator
// in every scenario the cases need and returns what it wrote.
func GenerateOnePassword(ctx context.Context) ([]*Line, error) {
	dir, err := os.MkdirTemp("", "casegen-1password-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	g := &opGen{dir: dir}
	defer func() {
		for _, l := range g.held {
			l.Release(context.WithoutCancel(ctx))
		}
	}()
	for _, step := range []func(context.Context, *opGen) error{opBulk, opFaults, opHealth, opPipelineOnly} {
		if err := step(ctx, g); err != nil {
			return nil, err
		}
	}
	return g.lines, nil
}

// opBulk: one catch-up run over generated events of all three streams,
// the variants above, an event full of awkward JSON and an oversized one.
func opBulk(ctx context.Context, g *opGen) error {
	sim, token := newOPSim(7, onepasswordtest.Account{})
	defer sim.Close()
	start := genNow.Add(-3 * time.Hour)
	sim.Generate("acme", onepasswordtest.StreamAuditEvents, opAudits, start, 3*time.Hour/opAudits)
	sim.Generate("acme", onepasswordtest.StreamSignInAttempts, opSignins, start, 3*time.Hour/opSignins)
	sim.Generate("acme", onepasswordtest.StreamItemUsages, opItemUsage, start, 3*time.Hour/opItemUsage)
	n, seq := 0, -1
	for _, v := range auditVariants {
		for range v.count {
			// Each copy starts from the next generated user-object event
			// (of an actor with an email), so that copies differ as real
			// events do.
			var raw []byte
			for raw == nil || bytes.Contains(raw, []byte(`"email":""`)) {
				var err error
				seq, raw, err = findEvent(sim, onepasswordtest.StreamAuditEvents, seq+1, opAudits, `"actor_type":"user"`, `"object_type":"user"`)
				if err != nil {
					return err
				}
			}
			n++
			action := between(sim.Event("acme", onepasswordtest.StreamAuditEvents, seq), `"action":"`, `"`)
			if err := ingestVariant(sim, onepasswordtest.StreamAuditEvents, seq, fmt.Sprintf("VARIANT%019d", n),
				`"action":"`+action+`","object_type":"user"`, `"action":"`+v.action+`","object_type":"`+v.object+`"`); err != nil {
				return err
			}
		}
	}
	for _, cat := range signinVariants {
		seq, _, err := findEvent(sim, onepasswordtest.StreamSignInAttempts, 0, opSignins, `"category":"credentials_failed"`)
		if err != nil {
			return err
		}
		n++
		if err := ingestVariant(sim, onepasswordtest.StreamSignInAttempts, seq, fmt.Sprintf("VARIANT%019d", n),
			`"category":"credentials_failed"`, `"category":"`+cat+`"`); err != nil {
			return err
		}
	}
	sim.IngestSpecial("acme", onepasswordtest.StreamAuditEvents, genNow.Add(-time.Minute))
	sim.IngestOversized("acme", onepasswordtest.StreamSignInAttempts, genNow.Add(-time.Minute), 80<<10)
	// A line limit of 40 000 bytes: wazuh-logtest refuses requests over
	// 64 KiB, and a 59 999-byte line, escaped into a request, exceeds it.
	lines, err := g.collect(ctx, opRun{scenario: "bulk", sim: sim, token: token, maxLine: 40000})
	if err != nil {
		return err
	}
	g.add("bulk", OriginCollector, lines)
	return nil
}

// findEvent returns the first generated event of stream, from seq on,
// that contains all subs.
func findEvent(sim *onepasswordtest.Server, stream string, from, n int, subs ...string) (int, []byte, error) {
	for seq := from; seq < n; seq++ {
		raw := sim.Event("acme", stream, seq)
		ok := true
		for _, s := range subs {
			if !bytes.Contains(raw, []byte(s)) {
				ok = false
				break
			}
		}
		if ok {
			return seq, raw, nil
		}
	}
	return 0, nil, fmt.Errorf("no generated %s event from %d on contains %q", stream, from, subs)
}

// between returns the text after prefix up to the next end.
func between(b []byte, prefix, end string) string {
	i := bytes.Index(b, []byte(prefix))
	if i < 0 {
		return ""
	}
	rest := b[i+len(prefix):]
	j := bytes.Index(rest, []byte(end))
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// opFaults: the API failing in each documented way, one run per fault.
func opFaults(ctx context.Context, g *opGen) error {
	type fault struct {
		scenario string
		f        onepasswordtest.Fault
		attempt  time.Duration
		repeat   int
	}
	for _, fc := range []fault{
		{"rate-limit-signin", onepasswordtest.Fault{Endpoint: "signinattempts", Kind: onepasswordtest.FaultRateLimitNoRetryAfter, Count: 10}, 0, 1},
		// Three failing runs in a row: the audit stream failing repeatedly.
		{"server-error-audit", onepasswordtest.Fault{Endpoint: "auditevents", Kind: onepasswordtest.FaultInternalError, Count: 10}, 0, 3},
		{"bad-gateway-itemusage", onepasswordtest.Fault{Endpoint: "itemusages", Kind: onepasswordtest.FaultBadGateway, Count: 10}, 0, 1},
		{"timeout-signin", onepasswordtest.Fault{Endpoint: "signinattempts", Kind: onepasswordtest.FaultSlow, Delay: 3 * time.Second, Count: 10}, 300 * time.Millisecond, 1},
		{"reset-audit", onepasswordtest.Fault{Endpoint: "auditevents", Kind: onepasswordtest.FaultConnectionReset, Count: 10}, 0, 1},
		{"truncated-itemusage", onepasswordtest.Fault{Endpoint: "itemusages", Kind: onepasswordtest.FaultTruncated, Count: 10}, 0, 1},
	} {
		for i := 1; i <= fc.repeat; i++ {
			sim, token := newOPSim(11, onepasswordtest.Account{})
			for _, s := range []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages} {
				sim.Generate("acme", s, 20, genNow.Add(-time.Hour), time.Minute)
			}
			sim.Inject(fc.f)
			scenario := fc.scenario
			if fc.repeat > 1 {
				scenario = fmt.Sprintf("%s-%d", fc.scenario, i)
			}
			lines, err := g.collect(ctx, opRun{scenario: scenario, sim: sim, token: token, attempt: fc.attempt})
			sim.Close()
			if err != nil {
				return err
			}
			g.add(scenario, OriginCollector, lines)
		}
	}

	// An expired token fails at introspection (orchestrator 401), twice.
	for i := 1; i <= 2; i++ {
		sim, token := newOPSim(12, onepasswordtest.Account{ExpiresAt: genNow.Add(-time.Hour)})
		scenario := fmt.Sprintf("expired-token-%d", i)
		lines, err := g.collect(ctx, opRun{scenario: scenario, sim: sim, token: token})
		sim.Close()
		if err != nil {
			return err
		}
		g.add(scenario, OriginCollector, lines)
	}

	// No token anywhere.
	{
		sim, _ := newOPSim(12, onepasswordtest.Account{})
		lines, err := g.collect(ctx, opRun{scenario: "missing-credential", sim: sim, creds: secrets.Static{}})
		sim.Close()
		if err != nil {
			return err
		}
		g.add("missing-credential", OriginCollector, lines)
	}

	// A base URL the collector refuses (plain HTTP to a remote host).
	{
		sim, token := newOPSim(12, onepasswordtest.Account{})
		lines, err := g.collect(ctx, opRun{scenario: "invalid-base-url", sim: sim, token: token, baseURL: "http://events.1password.invalid"})
		sim.Close()
		if err != nil {
			return err
		}
		g.add("invalid-base-url", OriginCollector, lines)
	}

	// A stored cursor the API refuses: collection restarts with overlap
	// and says so (API_HTTP_400).
	{
		sim, token := newOPSim(13, onepasswordtest.Account{})
		sim.Generate("acme", onepasswordtest.StreamSignInAttempts, 20, genNow.Add(-time.Hour), time.Minute)
		fs, err := filestore.New(filepath.Join(g.dir, "invalid-cursor", "state.json"))
		if err != nil {
			return err
		}
		if _, err := g.collect(ctx, opRun{scenario: "invalid-cursor-first", sim: sim, token: token, store: fs, streams: []string{"signin"}}); err != nil {
			return err
		}
		sim.Inject(onepasswordtest.Fault{Endpoint: "signinattempts", Kind: onepasswordtest.FaultInvalidCursor})
		lines, err := g.collect(ctx, opRun{scenario: "invalid-cursor", sim: sim, token: token, store: fs, streams: []string{"signin"}})
		sim.Close()
		if err != nil {
			return err
		}
		g.add("invalid-cursor", OriginCollector, lines)
	}
	return nil
}

// failingStore wraps a store whose reads or commits fail, as a full disk
// or a broken state file does.
type failingStore struct {
	state.Store
	failLoad, failCommit bool
}

type failingLease struct {
	state.Lease
	s *failingStore
}

func (s *failingStore) Lock(ctx context.Context, key state.Key, opts state.LockOptions) (state.Lease, error) {
	l, err := s.Store.Lock(ctx, key, opts)
	if err != nil {
		return nil, err
	}
	return &failingLease{Lease: l, s: s}, nil
}

func (l *failingLease) Load(ctx context.Context) (state.Record, error) {
	if l.s.failLoad {
		return state.Record{}, fmt.Errorf("read state: %w", state.ErrCorrupt)
	}
	return l.Lease.Load(ctx)
}

func (l *failingLease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	if l.s.failCommit {
		return 0, errors.New("write state: no space left on device")
	}
	return l.Lease.Commit(ctx, rec)
}

// opHealth: state failures, delivery failures, budgets, a locked stream,
// an interrupted run, a healthy run and a multi-tenant run.
func opHealth(ctx context.Context, g *opGen) error {
	newSim := func() (*onepasswordtest.Server, string) {
		sim, token := newOPSim(17, onepasswordtest.Account{})
		for _, s := range []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages} {
			sim.Generate("acme", s, 300, genNow.Add(-2*time.Hour), 20*time.Second)
		}
		return sim, token
	}
	fileStore := func(name string) (*filestore.Store, error) {
		return filestore.New(filepath.Join(g.dir, name, "state.json"))
	}
	type run struct {
		scenario string
		setup    func(r *opRun) error
	}
	runs := []run{
		{"healthy", func(r *opRun) error { return nil }},
		{"state-read-error", func(r *opRun) error {
			fs, err := fileStore("state-read-error")
			r.store = &failingStore{Store: fs, failLoad: true}
			r.streams = []string{"audit"}
			return err
		}},
		{"state-write-error", func(r *opRun) error {
			fs, err := fileStore("state-write-error")
			r.store = &failingStore{Store: fs, failCommit: true}
			r.streams = []string{"itemusage"}
			return err
		}},
		{"locked", func(r *opRun) error {
			fs, err := fileStore("locked")
			if err != nil {
				return err
			}
			// Another collector holds the sign-in stream (for the rest of
			// the generation: the lease must stay referenced, or its file
			// is closed and the lock released).
			lease, err := fs.Lock(ctx, state.Key{Tenant: "default", Vendor: onepassword.Vendor, Stream: "signin"}, state.LockOptions{Owner: "other"})
			g.held = append(g.held, lease)
			r.store = fs
			return err
		}},
		// Interrupted after the first page of the last stream: audit and
		// sign-in (300 events, 3 pages of 100 each) are done, item usage
		// keeps a backlog. (A stream that starts in a cancelled run cannot
		// even lock its state.)
		{"interrupted", func(r *opRun) error { r.cancelAt, r.pageLimit = 7, 100; return nil }},
		{"deadline", func(r *opRun) error { r.budget = pipeline.Budget{Deadline: genNow}; return nil }},
	}
	for i := 1; i <= 3; i++ {
		runs = append(runs, run{fmt.Sprintf("max-events-%d", i), func(r *opRun) error { r.budget = pipeline.Budget{MaxEvents: 100}; return nil }})
	}
	for i := 1; i <= 3; i++ {
		runs = append(runs, run{fmt.Sprintf("delivery-failed-%d", i), func(r *opRun) error { r.refuse = true; r.streams = []string{"audit"}; return nil }})
	}
	for _, rn := range runs {
		sim, token := newSim()
		r := opRun{scenario: rn.scenario, sim: sim, token: token}
		if err := rn.setup(&r); err != nil {
			sim.Close()
			return err
		}
		lines, err := g.collect(ctx, r)
		sim.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", rn.scenario, err)
		}
		g.add(rn.scenario, OriginCollector, lines)
	}
	return opMultiTenant(ctx, g)
}

// opMultiTenant: two tenants (OP_TOKENS_FILE), the second one's sign-in
// stream failing; the run summary nests each tenant's streams.
func opMultiTenant(ctx context.Context, g *opGen) error {
	rec := &recorder{}
	fs, err := filestore.New(filepath.Join(g.dir, "multi-tenant", "state.json"))
	if err != nil {
		return err
	}
	runner, err := pipeline.New(pipeline.Config{Envelope: onepassword.Envelope(), RunID: "gen-multi-tenant", Store: fs, Sink: rec, FinishTimeout: time.Second, Now: fixedClock})
	if err != nil {
		return err
	}
	var streams []pipeline.Stream
	var names []string
	for i, tenant := range []string{"client-a", "client-b"} {
		sim, token := newOPSim(int64(19+i), onepasswordtest.Account{})
		defer sim.Close()
		for _, s := range []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages} {
			sim.Generate("acme", s, 5, genNow.Add(-time.Hour), time.Minute)
		}
		if tenant == "client-b" {
			sim.Inject(onepasswordtest.Fault{Endpoint: "signinattempts", Kind: onepasswordtest.FaultInternalError, Count: 10})
		}
		c, err := (&opGen{}).collector(opRun{sim: sim, token: token, tenant: tenant})
		if err != nil {
			return err
		}
		names = append(names, tenant)
		for _, def := range onepassword.Streams() {
			key := state.Key{Tenant: tenant, Vendor: onepassword.Vendor, Stream: def.Name}
			streams = append(streams, pipeline.Stream{Key: key, Name: def.Name, Source: c.NewSource(def, onepassword.Legacy{})})
		}
	}
	results := runner.Run(ctx, streams)
	if err := runner.WriteSummary(ctx, pipeline.SummaryInput{Streams: onepassword.StreamNames(), Tenants: names, Tenant: "default", Results: results}); err != nil {
		return err
	}
	g.add("multi-tenant", OriginCollector, rec.lines)
	return nil
}

// opPipelineOnly: error codes of the shared taxonomy that the 1Password
// collector does not emit today, written by the pipeline's error writer
// with the 1Password envelope, and a code the rules do not know.
func opPipelineOnly(ctx context.Context, g *opGen) error {
	return pipelineOnly(ctx, onepassword.Envelope(), "audit", g.add)
}

type pipelineError struct {
	pipeline.Error
	stream string
}

// pipelineOnlyErrors are errors the shared pipeline and collectors may
// raise that a given collector does not produce against its simulator.
func pipelineOnlyErrors(stream string) []pipelineError {
	return []pipelineError{
		{pipeline.Error{Code: pipeline.CodeUnexpected, Message: "unhandled failure in the " + stream + " stream", Detail: "runtime error: index out of range [3] with length 3"}, stream},
		{pipeline.Error{Code: pipeline.CodeOrchestratorFatal, Message: "the run could not start", Detail: "cannot create the run's log file"}, "orchestrator"},
		{pipeline.Error{Code: pipeline.CodeEventReduced, Message: "an event was cut to fit Wazuh's limits", Detail: "key=\"EXAMPLEKEY\" bytes=80213"}, stream},
		{pipeline.Error{Code: pipeline.CodeCursorReset, Message: "the vendor refused the stored position; collection restarted with overlap", Detail: "restart=2026-03-02T11:55:00Z"}, stream},
		{pipeline.Error{Code: pipeline.CodeCollectionGap, Message: "a window could not be collected", Detail: "from=2026-02-20T00:00:00Z to=2026-02-22T00:00:00Z: older than the vendor keeps"}, stream},
		{pipeline.Error{Code: pipeline.CodeInvalidEvent, Message: "a vendor event could not be decoded and was not forwarded", Detail: "key=\"EXAMPLEKEY\""}, stream},
		{pipeline.Error{Code: pipeline.CodeResponseTooLarge, Message: "the response exceeded its size limit and was not read", Detail: "endpoint=/v2/example limit=268435456"}, stream},
		{pipeline.Error{Code: pipeline.CodeRequestBudget, Message: "the vendor's request budget is nearly used up; collection resumes when it refills", Detail: "pool=example used=1700 limit=1800 left=100 reserve=100 refill=2026-03-02T14:10:00Z"}, stream},
		{pipeline.Error{Code: "API_HTTP_403", Message: "a code added after these rules", Detail: "endpoint=/v2/example"}, stream},
	}
}
