package casegen

import (
	"context"
	"fmt"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr"
	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// CortexXDR is the Cortex XDR registration: the real collector against
// its simulator.
func CortexXDR() *Vendor {
	v, _ := rules.VendorByName("cortex_xdr")
	var types []string
	for _, s := range cortexxdr.Streams() {
		types = append(types, s.EventType)
	}
	return &Vendor{
		Vendor:     v,
		EventTypes: append(types, "error", "run_summary"),
		Generator: Generator{
			Origin:   OriginCollector,
			Describe: "functions/cortexxdr against functions/cortexxdr/cortexxdrtest through shared/pipeline (casegen.GenerateCortexXDR)",
			Run:      GenerateCortexXDR,
		},
		Cases: cortexXDRCases(),
	}
}

// xdrFQDN is the simulated tenant.
const xdrFQDN = "acme.xdr.eu.paloaltonetworks.com"

// xdrFuture is an event type the collector does not emit today.
const xdrFuture = "incident_change"

// Tactics the cases name.
const (
	tExecution   = "TA0002 - Execution"
	tPersistence = "TA0003 - Persistence"
	tPrivEsc     = "TA0004 - Privilege Escalation"
	tEvasion     = "TA0005 - Defense Evasion"
	tCredentials = "TA0006 - Credential Access"
	tDiscovery   = "TA0007 - Discovery"
	tLateral     = "TA0008 - Lateral Movement"
	tExfil       = "TA0010 - Exfiltration"
	tC2          = "TA0011 - Command and Control"
	tImpact      = "TA0040 - Impact"
)

// xdrTactics are the tactics with rules of their own.
var xdrTactics = []string{tPersistence, tPrivEsc, tEvasion, tCredentials, tLateral, tExfil, tC2, tImpact}

// xdrSim is a simulator with one tenant and an advanced key, on clock.
func xdrSim(clock *cortexxdrtest.Clock, t cortexxdrtest.Tenant, k cortexxdrtest.Key) (sim *cortexxdrtest.Server, keyID, key string) {
	sim = cortexxdrtest.New(cortexxdrtest.Options{Now: clock.Now})
	if t.Seed == 0 {
		t.Seed = 42
	}
	sim.AddTenant(xdrFQDN, t)
	keyID, key = sim.AddKey(xdrFQDN, k)
	return sim, keyID, key
}

// xdrCollector describes one tenant's collector.
type xdrCollector struct {
	sim        *cortexxdrtest.Server
	keyID, key string
	creds      secrets.Source // default: the key, on the tenant's FQDN
	clock      *cortexxdrtest.Clock
	// attempt is the HTTP attempt timeout, maxBody the largest body read.
	attempt  time.Duration
	maxBody  int64
	pageSize int
	streams  []string // default: both
	// defs replaces the collector's stream definitions.
	defs []cortexxdr.StreamDef
}

// setup builds the run's streams as localrun does: an invalid collector
// configuration is an orchestrator error; every requested stream runs
// (credentials are read, and checked, when a stream starts).
func (c xdrCollector) setup(g *vendorGen) func(state.Store) ([]pipeline.Stream, error) {
	return func(state.Store) ([]pipeline.Stream, error) {
		hc, err := httpClient(c.attempt, c.maxBody)
		if err != nil {
			return nil, err
		}
		creds := c.creds
		if creds == nil {
			creds = secrets.Static{cortexxdr.FieldFQDN: xdrFQDN, cortexxdr.FieldAPIKeyID: c.keyID, cortexxdr.FieldAPIKey: c.key}
		}
		col, err := cortexxdr.New(cortexxdr.Config{BaseURL: c.sim.URL, HTTP: hc, Lookback: 4 * time.Hour, PageSize: c.pageSize,
			Now: c.clock.Now, Sleep: c.clock.Sleep}, "default", creds)
		if err != nil {
			return nil, &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid Cortex XDR configuration", Err: err}
		}
		defs := c.defs
		if defs == nil {
			defs = cortexxdr.Streams()
		}
		var streams []pipeline.Stream
		for _, def := range defs {
			if len(c.streams) > 0 && !contains(c.streams, def.Name) {
				continue
			}
			streams = append(streams, pipeline.Stream{Key: g.key(def.Name), Name: def.Name, Source: col.NewSource(def, cortexxdr.Legacy{})})
		}
		return streams, nil
	}
}

// GenerateCortexXDR runs the Cortex XDR collector against its simulator
// in every scenario the cases need and returns what it wrote.
func GenerateCortexXDR(ctx context.Context) ([]*Line, error) {
	g, err := newVendorGen(cortexxdr.Vendor, cortexxdr.Envelope(), cortexxdr.EpochMillis(), cortexxdr.StreamNames())
	if err != nil {
		return nil, err
	}
	defer g.close(ctx)
	for _, step := range []func(context.Context, *vendorGen) error{xdrBulk, xdrFutureType, xdrFaults, xdrGap, xdrHealth} {
		if err := step(ctx, g); err != nil {
			return nil, err
		}
	}
	if err := pipelineOnly(ctx, cortexxdr.Envelope(), cortexxdr.StreamAlerts, g.add, pipeline.CodeCollectionGap, pipeline.CodeResponseTooLarge); err != nil {
		return nil, err
	}
	return g.lines, nil
}

// xdrBulk: an hour of alerts of every severity and tactic (with a burst of
// alerts on the endpoints, one wider than Wazuh's 256 fields, one larger
// than a line) and incidents, read on a five-minute-ish schedule: a first
// run, then the incidents change (investigated, resolved in every way,
// grown) and two more runs read each change.
func xdrBulk(ctx context.Context, g *vendorGen) error {
	clock := cortexxdrtest.NewClock(genNow)
	sim, keyID, key := xdrSim(clock, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	defer sim.Close()
	at := genNow.Add(-time.Hour)
	next := func() time.Time { at = at.Add(30 * time.Second); return at }
	var alerts []cortexxdrtest.AlertSpec
	alert := func(sp cortexxdrtest.AlertSpec) { sp.Inserted = next(); alerts = append(alerts, sp) }
	for _, sev := range []string{"informational", "low", "medium", "high", "critical"} {
		alert(cortexxdrtest.AlertSpec{Severity: sev, Tactic: tExecution})
	}
	for _, t := range xdrTactics {
		alert(cortexxdrtest.AlertSpec{Severity: "low", Tactic: t})
	}
	alert(cortexxdrtest.AlertSpec{Severity: "medium", Tactic: tPersistence})
	alert(cortexxdrtest.AlertSpec{Severity: "high", Tactic: tImpact})
	alert(cortexxdrtest.AlertSpec{Severity: "critical", Tactic: tImpact, Wide: 240})
	alert(cortexxdrtest.AlertSpec{Severity: "high", Tactic: tExecution, Oversize: 50000})
	// Alerts as the API makes them (severity, tactics, events picked),
	// then a burst of discovery alerts over the tenant's six endpoints.
	for range 10 {
		alert(cortexxdrtest.AlertSpec{})
	}
	for range 30 {
		alert(cortexxdrtest.AlertSpec{Severity: "low", Tactic: tDiscovery})
	}
	sim.AddAlerts(xdrFQDN, alerts)

	created := genNow.Add(-3 * time.Hour)
	incident := func(sp cortexxdrtest.IncidentSpec) string {
		created = created.Add(2 * time.Minute)
		sp.Created = created
		return sim.AddIncident(xdrFQDN, sp)
	}
	incident(cortexxdrtest.IncidentSpec{Severity: "informational", Tactic: tDiscovery, AlertCount: 3})
	incident(cortexxdrtest.IncidentSpec{Severity: "informational", Unmapped: true})
	for _, sev := range []string{"low", "medium", "high", "critical"} {
		incident(cortexxdrtest.IncidentSpec{Severity: sev, Tactic: tExecution, AlertCount: 2})
	}
	for _, t := range xdrTactics {
		incident(cortexxdrtest.IncidentSpec{Severity: "low", Tactic: t, AlertCount: 2})
	}
	incident(cortexxdrtest.IncidentSpec{Severity: "medium", Tactic: tPersistence, AlertCount: 2})
	incident(cortexxdrtest.IncidentSpec{Severity: "high", Tactic: tImpact, AlertCount: 4})
	incident(cortexxdrtest.IncidentSpec{Severity: "medium", Tactic: tExecution, AlertCount: 12})
	incident(cortexxdrtest.IncidentSpec{}) // as the API makes it
	// Incidents that change after the first run: one per closure, one
	// investigated and then closed, one gaining alerts.
	type change struct {
		sev, tactic string
		steps       []cortexxdrtest.IncidentChange
	}
	changes := []change{
		{"low", tExecution, []cortexxdrtest.IncidentChange{{Status: "under_investigation", AssignTo: "Ana Analyst"},
			{Status: "resolved_true_positive", ResolveComment: "Contained: host reimaged, credentials rotated"}}},
		{"low", tCredentials, []cortexxdrtest.IncidentChange{{Status: "resolved_true_positive"}}},
		{"high", tExecution, []cortexxdrtest.IncidentChange{{Status: "resolved_true_positive"}}},
		{"critical", tImpact, []cortexxdrtest.IncidentChange{{Status: "resolved_true_positive", ResolveComment: "Ransomware contained on two hosts"}}},
		{"medium", tExecution, []cortexxdrtest.IncidentChange{{Status: "resolved_false_positive", ResolveComment: "Admin script"}}},
		{"medium", tExecution, []cortexxdrtest.IncidentChange{{Status: "resolved_duplicate"}}},
		{"low", tDiscovery, []cortexxdrtest.IncidentChange{{Status: "resolved_known_issue"}}},
		{"high", tLateral, []cortexxdrtest.IncidentChange{{Status: "resolved_threat_handled"}}},
		{"low", tExecution, []cortexxdrtest.IncidentChange{{AddAlerts: 10}}},
	}
	var ids []string
	for _, c := range changes {
		ids = append(ids, incident(cortexxdrtest.IncidentSpec{Severity: c.sev, Tactic: c.tactic, AlertCount: 2}))
	}

	store, err := g.fileStore("bulk")
	if err != nil {
		return err
	}
	c := xdrCollector{sim: sim, keyID: keyID, key: key, clock: clock}
	// A line limit of 40 000 bytes, as for 1Password (wazuh-logtest
	// refuses requests over 64 KiB).
	run := vendorRun{scenario: "bulk", store: store, now: clock.Now, maxLine: 40000, setup: c.setup(g)}
	if err := g.collect(ctx, run); err != nil {
		return err
	}
	for step := range 2 {
		at := genNow.Add(time.Duration(10*step+1) * time.Minute)
		for i, c := range changes {
			if step < len(c.steps) {
				ch := c.steps[step]
				ch.At = at.Add(time.Duration(i) * time.Second)
				sim.ChangeIncident(xdrFQDN, ids[i], ch)
			}
		}
		clock.AdvanceTo(at.Add(9 * time.Minute))
		if err := g.collect(ctx, run); err != nil {
			return err
		}
	}
	return nil
}

// xdrFutureType: a collector that gained an event type, which these rules
// do not know yet: the collector reading incidents under a stream
// definition whose type is not one it emits today.
func xdrFutureType(ctx context.Context, g *vendorGen) error {
	clock := cortexxdrtest.NewClock(genNow)
	sim, keyID, key := xdrSim(clock, cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
	defer sim.Close()
	sim.AddIncident(xdrFQDN, cortexxdrtest.IncidentSpec{Created: genNow.Add(-time.Hour), Severity: "low", Tactic: tExecution})
	def, _ := cortexxdr.StreamByName(cortexxdr.StreamIncidents)
	def.EventType = xdrFuture
	c := xdrCollector{sim: sim, keyID: keyID, key: key, clock: clock, defs: []cortexxdr.StreamDef{def}}
	return g.collect(ctx, vendorRun{scenario: "future-type", now: clock.Now, setup: c.setup(g)})
}

// xdrQuiet is a simulator with a few alerts and incidents for the fault
// and health scenarios.
func xdrQuiet(t cortexxdrtest.Tenant, k cortexxdrtest.Key) (*cortexxdrtest.Clock, *cortexxdrtest.Server, string, string) {
	clock := cortexxdrtest.NewClock(genNow)
	sim, keyID, key := xdrSim(clock, t, k)
	var specs []cortexxdrtest.AlertSpec
	for i := range 15 {
		specs = append(specs, cortexxdrtest.AlertSpec{Inserted: genNow.Add(-time.Hour + time.Duration(i)*time.Minute)})
	}
	sim.AddAlerts(xdrFQDN, specs)
	for i := range 15 {
		sim.AddIncident(xdrFQDN, cortexxdrtest.IncidentSpec{Created: genNow.Add(-2*time.Hour + time.Duration(i)*time.Minute)})
	}
	return clock, sim, keyID, key
}

// xdrFaults: the API and the network failing in each documented way, and
// wrong or missing configuration, one run per fault.
func xdrFaults(ctx context.Context, g *vendorGen) error {
	type fault struct {
		scenario string
		tenant   cortexxdrtest.Tenant
		key      cortexxdrtest.Key
		prepare  func(sim *cortexxdrtest.Server, c *xdrCollector)
	}
	wrongKey := func(_ *cortexxdrtest.Server, c *xdrCollector) {
		c.creds = secrets.Static{cortexxdr.FieldFQDN: xdrFQDN, cortexxdr.FieldAPIKeyID: c.keyID, cortexxdr.FieldAPIKey: "a-revoked-key"}
	}
	inject := func(f cortexxdrtest.Fault) func(*cortexxdrtest.Server, *xdrCollector) {
		return func(sim *cortexxdrtest.Server, c *xdrCollector) {
			f.Stream, f.Count = cortexxdr.StreamAlerts, 10
			sim.Inject(f)
			c.streams = []string{cortexxdr.StreamAlerts}
		}
	}
	faults := []fault{
		{"wrong-key-1", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, wrongKey},
		{"wrong-key-2", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, wrongKey},
		{"missing-credential", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, func(_ *cortexxdrtest.Server, c *xdrCollector) {
			c.creds = secrets.Static{cortexxdr.FieldFQDN: xdrFQDN}
		}},
		// The console's address pasted with a space in it.
		{"invalid-fqdn", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, func(_ *cortexxdrtest.Server, c *xdrCollector) {
			c.creds = secrets.Static{cortexxdr.FieldFQDN: "https://acme xdr.eu.paloaltonetworks.com/", cortexxdr.FieldAPIKeyID: c.keyID, cortexxdr.FieldAPIKey: c.key}
		}},
		{"throttled", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, inject(cortexxdrtest.Fault{Kind: cortexxdrtest.FaultRateLimitNoRetryAfter})},
		{"server-error", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, inject(cortexxdrtest.Fault{Kind: cortexxdrtest.FaultInternalError})},
		{"refused", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, inject(cortexxdrtest.Fault{Kind: cortexxdrtest.FaultEchoHeaders, Status: 400})},
		{"proxy-page", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, inject(cortexxdrtest.Fault{Kind: cortexxdrtest.FaultHTMLPage})},
		{"reset", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, inject(cortexxdrtest.Fault{Kind: cortexxdrtest.FaultConnectionReset})},
		{"slow", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, func(sim *cortexxdrtest.Server, c *xdrCollector) {
			inject(cortexxdrtest.Fault{Kind: cortexxdrtest.FaultSlow, Delay: 3 * time.Second})(sim, c)
			c.attempt = 300 * time.Millisecond
		}},
		// The licence lacks the incidents API (402); the key's role may
		// not read incidents (403).
		{"unlicensed", cortexxdrtest.Tenant{Unlicensed: []string{cortexxdr.StreamIncidents}}, cortexxdrtest.Key{}, nil},
		{"role", cortexxdrtest.Tenant{}, cortexxdrtest.Key{Streams: []string{cortexxdr.StreamAlerts}}, nil},
		{"body-too-large", cortexxdrtest.Tenant{}, cortexxdrtest.Key{}, func(_ *cortexxdrtest.Server, c *xdrCollector) {
			c.maxBody, c.streams = 2048, []string{cortexxdr.StreamAlerts}
		}},
	}
	for _, f := range faults {
		clock, sim, keyID, key := xdrQuiet(f.tenant, f.key)
		c := xdrCollector{sim: sim, keyID: keyID, key: key, clock: clock}
		if f.prepare != nil {
			f.prepare(sim, &c)
		}
		err := g.collect(ctx, vendorRun{scenario: f.scenario, now: clock.Now, setup: c.setup(g)})
		sim.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// xdrGap: more alerts inserted in one millisecond than the API counts
// (9 999) or serves: the run says some may be missing and goes on. Only
// its error and summary lines join the pool.
func xdrGap(ctx context.Context, g *vendorGen) error {
	clock := cortexxdrtest.NewClock(genNow)
	sim, keyID, key := xdrSim(clock, cortexxdrtest.Tenant{Compact: true}, cortexxdrtest.Key{})
	defer sim.Close()
	at := genNow.Add(-time.Hour)
	specs := make([]cortexxdrtest.AlertSpec, cortexxdr.ResultCap+1)
	for i := range specs {
		specs[i] = cortexxdrtest.AlertSpec{Inserted: at}
	}
	sim.AddAlerts(xdrFQDN, specs)
	c := xdrCollector{sim: sim, keyID: keyID, key: key, clock: clock, streams: []string{cortexxdr.StreamAlerts}}
	// Confirmed (and committed) 25 pages at a time, as a syslog sink may.
	return g.collect(ctx, vendorRun{scenario: "gap", now: clock.Now, setup: c.setup(g), keep: ofType("xdr", "type", "error", "run_summary"), confirmPages: 25})
}

// xdrHealth: state and delivery failures, budgets, a locked stream, an
// interrupted run and a healthy one.
func xdrHealth(ctx context.Context, g *vendorGen) error {
	type run struct {
		scenario string
		setup    func(r *vendorRun, c *xdrCollector) error
	}
	runs := []run{
		{"healthy", func(*vendorRun, *xdrCollector) error { return nil }},
		{"stream-failed", func(_ *vendorRun, c *xdrCollector) error {
			c.sim.Inject(cortexxdrtest.Fault{Stream: cortexxdr.StreamAlerts, Kind: cortexxdrtest.FaultInternalError, Count: 10})
			return nil
		}},
		{"state-read-error", func(r *vendorRun, c *xdrCollector) error {
			fs, err := g.fileStore("state-read-error")
			r.store, c.streams = &failingStore{Store: fs, failLoad: true}, []string{cortexxdr.StreamAlerts}
			return err
		}},
		{"state-write-error", func(r *vendorRun, c *xdrCollector) error {
			fs, err := g.fileStore("state-write-error")
			r.store, c.streams = &failingStore{Store: fs, failCommit: true}, []string{cortexxdr.StreamIncidents}
			return err
		}},
		{"locked", func(r *vendorRun, _ *xdrCollector) error {
			fs, err := g.fileStore("locked")
			if err != nil {
				return err
			}
			r.store = fs
			return g.lockedBy(ctx, fs, cortexxdr.StreamIncidents)
		}},
		// Pages of 10: interrupted after the alerts' two pages and the
		// incidents' first.
		{"interrupted", func(r *vendorRun, c *xdrCollector) error { r.cancelAt, c.pageSize = 3, 10; return nil }},
	}
	for i := 1; i <= 3; i++ {
		runs = append(runs, run{fmt.Sprintf("max-events-%d", i), func(r *vendorRun, c *xdrCollector) error {
			r.budget, c.pageSize = pipeline.Budget{MaxEvents: 5}, 5
			return nil
		}})
	}
	for i := 1; i <= 3; i++ {
		runs = append(runs, run{fmt.Sprintf("delivery-failed-%d", i), func(r *vendorRun, c *xdrCollector) error {
			r.refuse, c.streams = true, []string{cortexxdr.StreamAlerts}
			return nil
		}})
	}
	for _, rn := range runs {
		clock, sim, keyID, key := xdrQuiet(cortexxdrtest.Tenant{}, cortexxdrtest.Key{})
		c := xdrCollector{sim: sim, keyID: keyID, key: key, clock: clock}
		r := vendorRun{scenario: rn.scenario, now: clock.Now}
		if err := rn.setup(&r, &c); err != nil {
			sim.Close()
			return err
		}
		r.setup = c.setup(g)
		err := g.collect(ctx, r)
		sim.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func xdr(field string) string { return "xdr." + field }

func xdrType(t string) Pred { return Is(xdr("type"), t) }

func xdrErr(scenario, code string) func(*Pool) ([]*Line, error) {
	return One(Scenario(scenario), xdrType("error"), Is(xdr("error_code"), code))
}

func xdrErrAny(code string) func(*Pool) ([]*Line, error) {
	return One(xdrType("error"), Is(xdr("error_code"), code))
}

func xdrSummary(scenario string) func(*Pool) ([]*Line, error) {
	return One(Scenario(scenario), xdrType("run_summary"))
}

// xdrLifecycle selects every state of one incident that went from new
// through investigation to a closure.
func xdrLifecycle(p *Pool) ([]*Line, error) {
	byID := map[string][]*Line{}
	for _, l := range p.Filter(Scenario("bulk"), xdrType("incident")) {
		id := l.Get(xdr("incident_id"))
		byID[id] = append(byID[id], l)
		if states := byID[id]; len(states) == 3 && states[0].Get(xdr("status")) == "new" &&
			states[1].Get(xdr("status")) == "under_investigation" && states[2].Get(xdr("status")) == "resolved_true_positive" {
			return states, nil
		}
	}
	return nil, fmt.Errorf("no incident went from new through investigation to resolved_true_positive")
}

func cortexXDRCases() []CaseSpec {
	bulk := Scenario("bulk")
	alert := func(sev, tactic string, more ...Pred) func(*Pool) ([]*Line, error) {
		return One(append([]Pred{bulk, xdrType("alert"), Is(xdr("severity"), sev), listIs(xdr("mitre_tactic_id_and_name"), tactic)}, more...)...)
	}
	plain := All(Not(Has(xdr("folded_fields"))), Not(Has(xdr("wazuh_pull.reduced.original_bytes"))))
	incident := func(sev, status, tactic string, more ...Pred) func(*Pool) ([]*Line, error) {
		return One(append([]Pred{bulk, xdrType("incident"), Is(xdr("severity"), sev), Is(xdr("status"), status), listIs(xdr("mitre_tactics_ids_and_names"), tactic)}, more...)...)
	}
	count := func(n string) Pred { return Is(xdr("alert_count"), n) }
	return []CaseSpec{
		// Integration health: errors.
		{"error with a code these rules do not know yet", xdrErrAny("API_HTTP_403"), []int{100599}},
		{"API key refused (401)", xdrErr("wrong-key-1", "API_HTTP_401"), []int{100580}},
		{"API key not configured", xdrErr("missing-credential", "CONFIG_MISSING_CREDENTIAL"), []int{100580}},
		{"API key refused in two runs", Then(
			One(Scenario("wrong-key-1"), xdrType("error"), Is(xdr("error_source"), "alerts")),
			One(Scenario("wrong-key-2"), xdrType("error"), Is(xdr("error_source"), "alerts"))), []int{100580, 100596}},
		{"throttled after retries (429)", xdrErr("throttled", "API_HTTP_429"), []int{100581}},
		{"request timed out", xdrErr("slow", "API_TIMEOUT"), []int{100582}},
		{"connection reset", xdrErr("reset", "API_CONNECTION_ERROR"), []int{100582}},
		{"state unreadable", xdrErr("state-read-error", "STATE_READ_ERROR"), []int{100583}},
		{"state not writable", xdrErr("state-write-error", "STATE_WRITE_ERROR"), []int{100583}},
		{"request refused (400)", xdrErr("refused", "API_HTTP_400"), []int{100584}},
		{"server error after retries (500)", xdrErr("server-error", "API_HTTP_500"), []int{100585}},
		{"licence lacks the incidents API (402)", xdrErr("unlicensed", "API_HTTP_UNEXPECTED"), []int{100586}},
		{"key role may not read incidents (403)", xdrErr("role", "API_HTTP_UNEXPECTED"), []int{100586}},
		{"a proxy's login page instead of a reply", xdrErr("proxy-page", "API_INVALID_RESPONSE"), []int{100587}},
		{"unexpected failure", xdrErrAny("API_UNEXPECTED_ERROR"), []int{100588}},
		{"run aborted", xdrErrAny("ORCHESTRATOR_FATAL"), []int{100589}},
		{"delivery not confirmed", xdrErr("delivery-failed-1", "DELIVERY_FAILED"), []int{100590}},
		{"event reduced", xdrErrAny("EVENT_REDUCED"), []int{100591}},
		{"cursor reset", xdrErrAny("CURSOR_RESET"), []int{100592}},
		{"one millisecond beyond the API's cap: collection gap", xdrErr("gap", "COLLECTION_GAP"), []int{100593}},
		{"undecodable record", xdrErrAny("API_INVALID_EVENT"), []int{100594}},
		{"tenant host name invalid", xdrErr("invalid-fqdn", "CONFIG_INVALID"), []int{100595}},
		{"reply over the client's size limit", xdrErr("body-too-large", "API_RESPONSE_TOO_LARGE"), []int{100598}},
		{"request budget nearly used up", xdrErrAny("API_REQUEST_BUDGET"), []int{100579}},
		{"delivery failing in three runs", Then(xdrErr("delivery-failed-1", "DELIVERY_FAILED"), xdrErr("delivery-failed-2", "DELIVERY_FAILED"), xdrErr("delivery-failed-3", "DELIVERY_FAILED")),
			[]int{100590, 100590, 100597}},

		// Integration health: run summaries.
		{"run summary: healthy", xdrSummary("healthy"), []int{100501}},
		{"run summary: a stream failed", xdrSummary("stream-failed"), []int{100502}},
		{"run summary: interrupted with a backlog", xdrSummary("interrupted"), []int{100503}},
		{"run summary: stopped at the event budget", xdrSummary("max-events-1"), []int{100504}},
		{"run summary: stream locked by another collector", xdrSummary("locked"), []int{100505}},
		{"run summary: backlog in three runs", Then(xdrSummary("max-events-1"), xdrSummary("max-events-2"), xdrSummary("max-events-3")), []int{100504, 100504, 100506}},

		// Alerts.
		{"alert: informational severity", alert("informational", tExecution), []int{100510}},
		{"alert: low", alert("low", tExecution, plain), []int{100511}},
		{"alert: medium", alert("medium", tExecution, plain), []int{100512}},
		{"alert: high", alert("high", tExecution, plain), []int{100513}},
		{"alert: critical", alert("critical", tExecution, plain), []int{100514}},
		{"alert: low with Persistence", alert("low", tPersistence), []int{100515}},
		{"alert: medium with Persistence", alert("medium", tPersistence), []int{100515}},
		{"alert: low with Privilege Escalation", alert("low", tPrivEsc), []int{100516}},
		{"alert: low with Defense Evasion", alert("low", tEvasion), []int{100517}},
		{"alert: low with Credential Access", alert("low", tCredentials), []int{100518}},
		{"alert: low with Lateral Movement", alert("low", tLateral), []int{100519}},
		{"alert: low with Exfiltration", alert("low", tExfil), []int{100520}},
		{"alert: low with Command and Control", alert("low", tC2), []int{100521}},
		{"alert: low with Impact", alert("low", tImpact), []int{100522}},
		{"alert: high with Impact", alert("high", tImpact, plain), []int{100522}},
		{"alert: critical, wider than Wazuh's 256 fields (folded)", alert("critical", tImpact, Has(xdr("folded_fields"))), []int{100514}},
		{"alert: high, larger than a line (reduced)", alert("high", tExecution, Has(xdr("wazuh_pull.reduced.original_bytes"))), []int{100513}},
		{"alerts: five on one endpoint", Same(5, xdr("endpoint_id"), nil, bulk, xdrType("alert"), Is(xdr("severity"), "low"), listIs(xdr("mitre_tactic_id_and_name"), tDiscovery)),
			[]int{100511, 100511, 100511, 100511, 100523}},

		// Incidents.
		{"incident: new, informational severity, no MITRE mapping", One(bulk, xdrType("incident"), Is(xdr("severity"), "informational"), Is(xdr("mitre_tactics_ids_and_names"), "[]")), []int{100530}},
		{"incident: new, informational severity, MITRE mapped", incident("informational", "new", tDiscovery), []int{100570}},
		{"incident: new, low", incident("low", "new", tExecution, count("2")), []int{100531}},
		{"incident: new, medium", incident("medium", "new", tExecution, count("2")), []int{100532}},
		{"incident: new, high", incident("high", "new", tExecution), []int{100533}},
		{"incident: new, critical", incident("critical", "new", tExecution), []int{100534}},
		{"incident: under investigation", incident("low", "under_investigation", tExecution), []int{100535}},
		{"incident: twelve correlated alerts", incident("medium", "new", tExecution, count("12")), []int{100538}},
		{"incident: grown to twelve alerts", incident("low", "new", tExecution, count("12")), []int{100538}},
		{"incident: resolved true positive", incident("low", "resolved_true_positive", tCredentials), []int{100550}},
		{"incident: resolved false positive", incident("medium", "resolved_false_positive", tExecution), []int{100551}},
		{"incident: resolved true positive with a note", incident("low", "resolved_true_positive", tExecution, Has(xdr("resolve_comment"))), []int{100552}},
		{"incident: resolved true positive, high", incident("high", "resolved_true_positive", tExecution), []int{100553}},
		{"incident: resolved true positive, critical", incident("critical", "resolved_true_positive", tImpact), []int{100554}},
		{"incident: resolved as duplicate", incident("medium", "resolved_duplicate", tExecution), []int{100555}},
		{"incident: resolved as known issue", incident("low", "resolved_known_issue", tDiscovery), []int{100555}},
		{"incident: resolved, threat handled", incident("high", "resolved_threat_handled", tLateral), []int{100555}},
		{"incident: low with Persistence", incident("low", "new", tPersistence), []int{100571}},
		{"incident: medium with Persistence", incident("medium", "new", tPersistence), []int{100571}},
		{"incident: low with Privilege Escalation", incident("low", "new", tPrivEsc), []int{100572}},
		{"incident: low with Defense Evasion", incident("low", "new", tEvasion), []int{100573}},
		{"incident: low with Credential Access", incident("low", "new", tCredentials), []int{100574}},
		{"incident: low with Lateral Movement", incident("low", "new", tLateral), []int{100575}},
		{"incident: low with Exfiltration", incident("low", "new", tExfil), []int{100576}},
		{"incident: low with Command and Control", incident("low", "new", tC2), []int{100577}},
		{"incident: low with Impact", incident("low", "new", tImpact), []int{100578}},
		{"incident: high with Impact", incident("high", "new", tImpact), []int{100578}},
		{"incident: each change of one incident is an event", xdrLifecycle, []int{100531, 100535, 100552}},

		{"event type these rules do not know", One(Scenario("future-type"), xdrType(xdrFuture)), []int{100509}},
	}
}
