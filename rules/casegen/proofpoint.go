package casegen

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint"
	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Proofpoint is the Proofpoint TAP registration: the real collector
// against its simulator.
func Proofpoint() *Vendor {
	v, _ := rules.VendorByName("proofpoint")
	var types []string
	for _, s := range proofpoint.Streams() {
		types = append(types, s.EventTypes...)
	}
	return &Vendor{
		Vendor:     v,
		EventTypes: append(types, "error", "run_summary"),
		Generator: Generator{
			Origin:   OriginCollector,
			Describe: "functions/proofpoint against functions/proofpoint/proofpointtest through shared/pipeline (casegen.GenerateProofpoint)",
			Run:      GenerateProofpoint,
		},
		Cases: proofpointCases(),
	}
}

// ppTenant is the simulator's tenant.
const ppTenant = "acme"

// ppFuture is the name of a SIEM array TAP does not serve today: the
// collector forwards such an array with its name as event_type.
const ppFuture = "messagesQuarantined"

// ppSim is a simulator with one tenant; now is its clock (default the
// fixed generation clock).
func ppSim(now func() time.Time, t proofpointtest.Tenant) (*proofpointtest.Server, proofpointtest.Credentials) {
	if now == nil {
		now = fixedClock
	}
	sim := proofpointtest.New(proofpointtest.Options{Now: now, Seed: 5})
	return sim, sim.AddTenant(ppTenant, t)
}

// ppCollector describes one tenant's collector.
type ppCollector struct {
	sim     *proofpointtest.Server
	cred    proofpointtest.Credentials
	creds   secrets.Source // default: cred
	baseURL string         // default: the simulator
	now     func() time.Time
	// attempt is the HTTP attempt timeout, maxBody the largest body read.
	attempt time.Duration
	maxBody int64
	// daily and reserve size the SIEM request budget (defaults: TAP's).
	daily, reserve int
	lookback       time.Duration // default 4 h
	streams        []string      // default: both
}

// setup builds the run's streams as localrun does: an invalid collector
// configuration is an orchestrator error; every requested stream runs.
func (c ppCollector) setup(g *vendorGen) func(state.Store) ([]pipeline.Stream, error) {
	return func(state.Store) ([]pipeline.Stream, error) {
		hc, err := httpClient(c.attempt, c.maxBody)
		if err != nil {
			return nil, err
		}
		creds := c.creds
		if creds == nil {
			creds = secrets.Static{proofpoint.FieldPrincipal: c.cred.Principal, proofpoint.FieldSecret: c.cred.Secret}
		}
		base := c.baseURL
		if base == "" {
			base = c.sim.URL
		}
		now := c.now
		if now == nil {
			now = fixedClock
		}
		lookback := c.lookback
		if lookback == 0 {
			lookback = 4 * time.Hour
		}
		col, err := proofpoint.New(proofpoint.Config{BaseURL: base, HTTP: hc, Lookback: lookback, Now: now,
			SIEMRequestsPerDay: c.daily, BudgetReserve: c.reserve}, "default", creds)
		if err != nil {
			return nil, &pipeline.Error{Code: pipeline.CodeConfig, Message: "invalid Proofpoint TAP configuration", Err: err}
		}
		var streams []pipeline.Stream
		for _, def := range proofpoint.Streams() {
			if len(c.streams) > 0 && !contains(c.streams, def.Name) {
				continue
			}
			src, err := col.NewSource(def, proofpoint.Legacy{})
			if err != nil {
				return nil, err
			}
			streams = append(streams, pipeline.Stream{Key: g.key(def.Name), Name: def.Name, Source: src})
		}
		return streams, nil
	}
}

// GenerateProofpoint runs the Proofpoint collector against its simulator
// in every scenario the cases need and returns what it wrote.
func GenerateProofpoint(ctx context.Context) ([]*Line, error) {
	g, err := newVendorGen(proofpoint.Vendor, proofpoint.Envelope(), nil, proofpoint.StreamNames())
	if err != nil {
		return nil, err
	}
	defer g.close(ctx)
	for _, step := range []func(context.Context, *vendorGen) error{ppBulk, ppFaults, ppBudget, ppGap, ppHealth} {
		if err := step(ctx, g); err != nil {
			return nil, err
		}
	}
	if err := pipelineOnly(ctx, proofpoint.Envelope(), proofpoint.StreamSIEM, g.add,
		pipeline.CodeCollectionGap, pipeline.CodeResponseTooLarge, pipeline.CodeRequestBudget); err != nil {
		return nil, err
	}
	return g.lines, nil
}

// ppBulk: three hours of a small tenant's traffic (24 mailboxes, so that
// users receive and click several threats; a fifth of the clicks on three
// campaign URLs), a People snapshot, and a message in an array TAP may add
// later, in one catch-up run.
func ppBulk(ctx context.Context, g *vendorGen) error {
	sim, cred := ppSim(nil, proofpointtest.Tenant{})
	defer sim.Close()
	sim.Generate(ppTenant, proofpointtest.Traffic{From: genNow.Add(-3*time.Hour - 30*time.Minute), To: genNow.Add(-30 * time.Minute),
		MessagesPerHour: 150, ClicksPerHour: 200, Mailboxes: 24, Campaigns: 0.2, Seed: 7})
	sim.GeneratePeople(ppTenant, 20, 6, 7)
	// The future array's message is a copy of a generated blocked one.
	for _, e := range sim.Events(ppTenant) {
		if e.Type == proofpointtest.TypeMessagesBlocked {
			sim.Ingest(ppTenant, proofpointtest.Event{Type: ppFuture, Created: e.Created, Indexed: e.Indexed, Identity: ppFuture + "/" + e.Identity, Raw: e.Raw})
			break
		}
	}
	c := ppCollector{sim: sim, cred: cred}
	// A line limit of 40 000 bytes, as for 1Password (wazuh-logtest
	// refuses requests over 64 KiB).
	return g.collect(ctx, vendorRun{scenario: "bulk", setup: c.setup(g), maxLine: 40000})
}

// ppQuiet is a simulator with a little traffic for the fault and health
// scenarios.
func ppQuiet(now func() time.Time, t proofpointtest.Tenant) (*proofpointtest.Server, proofpointtest.Credentials) {
	sim, cred := ppSim(now, t)
	at := genNow
	if now != nil {
		at = now()
	}
	sim.Generate(ppTenant, proofpointtest.Traffic{From: at.Add(-3 * time.Hour), To: at.Add(-time.Hour), MessagesPerHour: 6, ClicksPerHour: 4, Seed: 11})
	sim.GeneratePeople(ppTenant, 3, 2, 11)
	return sim, cred
}

// ppFaults: TAP and the network failing in each documented way, and
// wrong or missing configuration, one run per fault.
func ppFaults(ctx context.Context, g *vendorGen) error {
	type fault struct {
		scenario string
		tenant   proofpointtest.Tenant
		prepare  func(sim *proofpointtest.Server, c *ppCollector)
	}
	faults := []fault{
		{"wrong-secret-1", proofpointtest.Tenant{}, func(_ *proofpointtest.Server, c *ppCollector) {
			c.creds = secrets.Static{proofpoint.FieldPrincipal: c.cred.Principal, proofpoint.FieldSecret: "a-revoked-secret"}
		}},
		{"wrong-secret-2", proofpointtest.Tenant{}, func(_ *proofpointtest.Server, c *ppCollector) {
			c.creds = secrets.Static{proofpoint.FieldPrincipal: c.cred.Principal, proofpoint.FieldSecret: "a-revoked-secret"}
		}},
		{"missing-credential", proofpointtest.Tenant{}, func(_ *proofpointtest.Server, c *ppCollector) { c.creds = secrets.Static{} }},
		// Plain HTTP to a remote host is refused.
		{"invalid-base-url", proofpointtest.Tenant{}, func(_ *proofpointtest.Server, c *ppCollector) { c.baseURL = "http://tap-api-v2.proofpoint.invalid" }},
		// Another client used up the rolling 24-hour pool.
		{"pool-used-up", proofpointtest.Tenant{}, func(sim *proofpointtest.Server, c *ppCollector) {
			sim.SpendPool(ppTenant, "siem", proofpointtest.RequestsPerDay)
			c.streams = []string{proofpoint.StreamSIEM}
		}},
		// This host's clock runs two hours ahead of TAP's: the window's
		// end is in TAP's future and the request refused (400). (A clock
		// up to an hour ahead is read from TAP's Date header and windows
		// kept behind it; two hours is not believed.)
		{"clock-ahead", proofpointtest.Tenant{}, func(_ *proofpointtest.Server, c *ppCollector) {
			c.now = func() time.Time { return genNow.Add(2 * time.Hour) }
			c.streams = []string{proofpoint.StreamSIEM}
		}},
		// The credential may not read this customer's data (403).
		{"forbidden", proofpointtest.Tenant{Forbidden: true}, nil},
		{"assembly-timeout", proofpointtest.Tenant{}, func(sim *proofpointtest.Server, _ *ppCollector) {
			sim.Inject(proofpointtest.Fault{Endpoint: "siem", Kind: proofpointtest.FaultAssemblyTimeout, Count: 10})
		}},
		{"slow", proofpointtest.Tenant{}, func(sim *proofpointtest.Server, c *ppCollector) {
			sim.Inject(proofpointtest.Fault{Endpoint: "siem", Kind: proofpointtest.FaultSlow, Delay: 3 * time.Second, Count: 10})
			c.attempt, c.streams = 300*time.Millisecond, []string{proofpoint.StreamSIEM}
		}},
		{"reset", proofpointtest.Tenant{}, func(sim *proofpointtest.Server, c *ppCollector) {
			sim.Inject(proofpointtest.Fault{Endpoint: "siem", Kind: proofpointtest.FaultConnectionReset, Count: 10})
			c.streams = []string{proofpoint.StreamSIEM}
		}},
		// A proxy answers with its login page, every time.
		{"proxy-page", proofpointtest.Tenant{}, func(sim *proofpointtest.Server, c *ppCollector) {
			sim.Inject(proofpointtest.Fault{Endpoint: "siem", Kind: proofpointtest.FaultHTMLPage, Count: 10})
			c.streams = []string{proofpoint.StreamSIEM}
		}},
		// A body larger than the client reads.
		{"body-too-large", proofpointtest.Tenant{}, func(_ *proofpointtest.Server, c *ppCollector) {
			c.maxBody, c.streams = 2048, []string{proofpoint.StreamSIEM}
		}},
	}
	for _, f := range faults {
		sim, cred := ppQuiet(nil, f.tenant)
		c := ppCollector{sim: sim, cred: cred}
		if f.prepare != nil {
			f.prepare(sim, &c)
		}
		err := g.collect(ctx, vendorRun{scenario: f.scenario, setup: c.setup(g)})
		sim.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ppBudget: a tenant whose SIEM budget (6 requests a day, 2 in reserve)
// cannot cover a six-hour catch-up: the first run stops at the reserve,
// and the two runs after it, five minutes apart, find it still used up.
func ppBudget(ctx context.Context, g *vendorGen) error {
	clock := proofpointtest.NewClock(genNow)
	sim, cred := ppQuiet(clock.Now, proofpointtest.Tenant{})
	defer sim.Close()
	store, err := g.fileStore("budget")
	if err != nil {
		return err
	}
	c := ppCollector{sim: sim, cred: cred, now: clock.Now, daily: 6, reserve: 2, lookback: 6 * time.Hour, streams: []string{proofpoint.StreamSIEM}}
	for i := 1; i <= 3; i++ {
		if err := g.collect(ctx, vendorRun{scenario: fmt.Sprintf("budget-%d", i), store: store, now: clock.Now, setup: c.setup(g)}); err != nil {
			return err
		}
		clock.Advance(5 * time.Minute)
	}
	return nil
}

// ppGap: a SIEM position eight days old (a host that was off): TAP keeps
// seven days, so the run reports the lost interval and goes on.
func ppGap(ctx context.Context, g *vendorGen) error {
	clock := proofpointtest.NewClock(genNow.Add(-8 * 24 * time.Hour))
	sim, cred := ppSim(clock.Now, proofpointtest.Tenant{})
	defer sim.Close()
	store, err := g.fileStore("gap")
	if err != nil {
		return err
	}
	c := ppCollector{sim: sim, cred: cred, now: clock.Now, lookback: time.Hour, streams: []string{proofpoint.StreamSIEM}}
	if err := g.collect(ctx, vendorRun{scenario: "gap-before", store: store, now: clock.Now, setup: c.setup(g), keep: func(string) bool { return false }}); err != nil {
		return err
	}
	clock.Set(genNow)
	// Interrupted after the first window: the week after the gap is 171
	// more windows, which would only slow the generation down.
	return g.collect(ctx, vendorRun{scenario: "gap", store: store, now: clock.Now, setup: c.setup(g), cancelAt: 1})
}

// ppHealth: state and delivery failures, budgets, a locked stream, an
// interrupted run and a healthy one.
func ppHealth(ctx context.Context, g *vendorGen) error {
	type run struct {
		scenario string
		setup    func(r *vendorRun, c *ppCollector) error
	}
	runs := []run{
		{"healthy", func(*vendorRun, *ppCollector) error { return nil }},
		{"stream-failed", func(_ *vendorRun, c *ppCollector) error {
			c.sim.Inject(proofpointtest.Fault{Endpoint: "siem", Kind: proofpointtest.FaultInternalError, Count: 10})
			return nil
		}},
		{"state-read-error", func(r *vendorRun, c *ppCollector) error {
			fs, err := g.fileStore("state-read-error")
			r.store, c.streams = &failingStore{Store: fs, failLoad: true}, []string{proofpoint.StreamSIEM}
			return err
		}},
		{"state-write-error", func(r *vendorRun, c *ppCollector) error {
			fs, err := g.fileStore("state-write-error")
			r.store, c.streams = &failingStore{Store: fs, failCommit: true}, []string{proofpoint.StreamPeople}
			return err
		}},
		{"locked", func(r *vendorRun, _ *ppCollector) error {
			fs, err := g.fileStore("locked")
			if err != nil {
				return err
			}
			r.store = fs
			return g.lockedBy(ctx, fs, proofpoint.StreamPeople)
		}},
		// Interrupted after the SIEM stream's five windows and the first
		// page of the People snapshot. (A stream that starts in a
		// cancelled run cannot even lock its state.)
		{"interrupted", func(r *vendorRun, _ *ppCollector) error { r.cancelAt = 6; return nil }},
		{"deadline", func(r *vendorRun, _ *ppCollector) error { r.budget = pipeline.Budget{Deadline: genNow}; return nil }},
	}
	for i := 1; i <= 3; i++ {
		runs = append(runs, run{fmt.Sprintf("max-events-%d", i), func(r *vendorRun, _ *ppCollector) error {
			r.budget = pipeline.Budget{MaxEvents: 2}
			return nil
		}})
	}
	for i := 1; i <= 3; i++ {
		runs = append(runs, run{fmt.Sprintf("delivery-failed-%d", i), func(r *vendorRun, c *ppCollector) error {
			r.refuse, c.streams = true, []string{proofpoint.StreamSIEM}
			return nil
		}})
	}
	for _, rn := range runs {
		sim, cred := ppQuiet(nil, proofpointtest.Tenant{})
		c := ppCollector{sim: sim, cred: cred}
		r := vendorRun{scenario: rn.scenario}
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

func pp(field string) string { return "pp." + field }

func ppType(t string) Pred { return Is(pp("event_type"), t) }

func ppErr(scenario, code string) func(*Pool) ([]*Line, error) {
	return One(Scenario(scenario), ppType("error"), Is(pp("error_code"), code))
}

func ppErrAny(code string) func(*Pool) ([]*Line, error) {
	return One(ppType("error"), Is(pp("error_code"), code))
}

func ppSummary(scenario string) func(*Pool) ([]*Line, error) {
	return One(Scenario(scenario), ppType("run_summary"))
}

// ppClasses are the classifications of a message's threats, as TAP
// spells them.
func ppClasses(l *Line) []string {
	v, ok := l.Fields().Get(pp("threatsInfoMap"))
	if !ok {
		return nil
	}
	var threats []struct {
		Classification string `json:"classification"`
	}
	if json.Unmarshal([]byte(v), &threats) != nil {
		return nil
	}
	var out []string
	for _, t := range threats {
		out = append(out, t.Classification)
	}
	return out
}

// ppOnly matches messages whose every threat is classified exactly so.
func ppOnly(class string) Pred {
	return func(l *Line) bool {
		cs := ppClasses(l)
		return len(cs) > 0 && !slices.ContainsFunc(cs, func(c string) bool { return c != class })
	}
}

// ppRetroactive matches clicks whose threat was classified an hour or
// more after the click: TAP creates the event with the verdict.
func ppRetroactive(l *Line) bool {
	click, err1 := time.Parse(time.RFC3339, l.Get(pp("clickTime")))
	verdict, err2 := time.Parse(time.RFC3339, l.Get(pp("threatTime")))
	return err1 == nil && err2 == nil && verdict.Sub(click) >= time.Hour
}

// ppBoth matches messages with a threat of each class.
func ppBoth(a, b string) Pred {
	return func(l *Line) bool { cs := ppClasses(l); return slices.Contains(cs, a) && slices.Contains(cs, b) }
}

func proofpointCases() []CaseSpec {
	bulk := Scenario("bulk")
	msg := func(typ string, more ...Pred) func(*Pool) ([]*Line, error) {
		return One(append([]Pred{bulk, ppType(typ)}, more...)...)
	}
	click := func(typ, class, status string) Pred {
		return All(bulk, ppType(typ), Is(pp("classification"), class), Is(pp("threatStatus"), status))
	}
	// A click names its user as a string (sometimes, drifting, as an
	// array): the correlation cases take the usual form.
	oneUser := Not(hasPrefix(pp("recipient"), "["))
	return []CaseSpec{
		// Integration health: errors.
		{"error with a code these rules do not know yet", ppErrAny("API_HTTP_403"), []int{100670}},
		{"secret refused (401)", ppErr("wrong-secret-1", "API_HTTP_401"), []int{100671}},
		{"no credentials configured", ppErr("missing-credential", "CONFIG_MISSING_CREDENTIAL"), []int{100671}},
		{"credential refused in two runs", Then(
			One(Scenario("wrong-secret-1"), ppType("error"), Is(pp("error_source"), "siem")),
			One(Scenario("wrong-secret-2"), ppType("error"), Is(pp("error_source"), "siem"))), []int{100671, 100687}},
		{"rolling 24-hour pool used up by another client (429)", ppErr("pool-used-up", "API_HTTP_429"), []int{100672}},
		{"request timed out", ppErr("slow", "API_TIMEOUT"), []int{100673}},
		{"connection reset", ppErr("reset", "API_CONNECTION_ERROR"), []int{100673}},
		{"state unreadable", ppErr("state-read-error", "STATE_READ_ERROR"), []int{100674}},
		{"state not writable", ppErr("state-write-error", "STATE_WRITE_ERROR"), []int{100674}},
		{"window refused: this host's clock runs ahead (400)", ppErr("clock-ahead", "API_HTTP_400"), []int{100675}},
		{"results not assembled in time (500)", ppErr("assembly-timeout", "API_HTTP_500"), []int{100676}},
		{"credential not allowed to read the customer's data (403)", ppErr("forbidden", "API_HTTP_UNEXPECTED"), []int{100677}},
		{"a proxy's login page instead of JSON", ppErr("proxy-page", "API_INVALID_RESPONSE"), []int{100678}},
		{"unexpected failure", ppErrAny("API_UNEXPECTED_ERROR"), []int{100679}},
		{"run aborted", ppErrAny("ORCHESTRATOR_FATAL"), []int{100680}},
		{"delivery not confirmed", ppErr("delivery-failed-1", "DELIVERY_FAILED"), []int{100681}},
		{"event reduced", ppErrAny("EVENT_REDUCED"), []int{100682}},
		{"cursor reset", ppErrAny("CURSOR_RESET"), []int{100683}},
		{"position older than TAP keeps: collection gap", ppErr("gap", "COLLECTION_GAP"), []int{100684}},
		{"undecodable record", ppErrAny("API_INVALID_EVENT"), []int{100685}},
		{"invalid base URL", ppErr("invalid-base-url", "CONFIG_INVALID"), []int{100686}},
		{"response over the client's size limit", ppErr("body-too-large", "API_RESPONSE_TOO_LARGE"), []int{100689}},
		{"request budget nearly used up", ppErr("budget-1", "API_REQUEST_BUDGET"), []int{100696}},
		{"delivery failing in three runs", Then(ppErr("delivery-failed-1", "DELIVERY_FAILED"), ppErr("delivery-failed-2", "DELIVERY_FAILED"), ppErr("delivery-failed-3", "DELIVERY_FAILED")),
			[]int{100681, 100681, 100688}},
		{"request budget used up in three runs", Then(ppErr("budget-1", "API_REQUEST_BUDGET"), ppErr("budget-2", "API_REQUEST_BUDGET"), ppErr("budget-3", "API_REQUEST_BUDGET")),
			[]int{100696, 100696, 100697}},

		// Integration health: run summaries.
		{"run summary: healthy", ppSummary("healthy"), []int{100690}},
		{"run summary: a stream failed", ppSummary("stream-failed"), []int{100691}},
		{"run summary: stopped at the request budget (a planned stop with a backlog)", ppSummary("budget-1"), []int{100692}},
		{"run summary: interrupted with a backlog", ppSummary("interrupted"), []int{100692}},
		{"run summary: stopped at the event budget", ppSummary("max-events-1"), []int{100693}},
		{"run summary: stopped at the time budget", ppSummary("deadline"), []int{100693}},
		{"run summary: stream locked by another collector", ppSummary("locked"), []int{100694}},
		{"run summary: backlog in three runs", Then(ppSummary("max-events-1"), ppSummary("max-events-2"), ppSummary("max-events-3")), []int{100693, 100693, 100695}},

		// Messages.
		{"message blocked: spam", msg("messagesBlocked", ppOnly("spam")), []int{100601}},
		{"message blocked: malware", msg("messagesBlocked", ppOnly("malware")), []int{100610}},
		{"message blocked: phishing", msg("messagesBlocked", ppOnly("phish")), []int{100611}},
		{"message blocked: impostor", msg("messagesBlocked", ppOnly("impostor")), []int{100612}},
		{"message delivered: spam", msg("messagesDelivered", ppOnly("spam")), []int{100602}},
		{"message delivered: malware", msg("messagesDelivered", ppOnly("malware")), []int{100613}},
		{"message delivered: phishing", msg("messagesDelivered", ppOnly("phish")), []int{100614}},
		{"message delivered: impostor", msg("messagesDelivered", ppOnly("impostor")), []int{100615}},
		{"message delivered: phishing and malware (the graver wins)", msg("messagesDelivered", ppBoth("phish", "malware")), []int{100613}},
		{"message delivered: classification in upper case", msg("messagesDelivered", ppOnly("PHISH")), []int{100614}},
		{"message delivered to several recipients (one event each)", msg("messagesDelivered", ppOnly("phish"), Contains(pp("toAddresses"), ",")), []int{100614}},

		// Clicks.
		{"click blocked: spam", One(click("clicksBlocked", "spam", "active")), []int{100603}},
		{"click blocked: malware", One(click("clicksBlocked", "malware", "active")), []int{100630}},
		{"click blocked: phishing", One(click("clicksBlocked", "phish", "active")), []int{100631}},
		{"click blocked: classification in upper case", One(click("clicksBlocked", "PHISH", "active")), []int{100631}},
		{"click permitted: spam", One(click("clicksPermitted", "spam", "active")), []int{100604}},
		{"click permitted: impostor", One(click("clicksPermitted", "impostor", "active")), []int{100604}},
		{"click permitted: malware", One(click("clicksPermitted", "malware", "active")), []int{100632}},
		{"click permitted: phishing", One(click("clicksPermitted", "phish", "active")), []int{100633}},
		{"click permitted: threat since cleared", One(click("clicksPermitted", "phish", "cleared")), []int{100634}},
		{"click permitted: retroactive verdict (clicked an hour or more before)", One(click("clicksPermitted", "malware", "active"), ppRetroactive), []int{100632}},

		// People snapshots.
		{"people: very attacked person", One(bulk, ppType(proofpoint.TypeVAP), Is(pp("identity.vip"), "false")), []int{100605}},
		{"people: very attacked VIP", One(bulk, ppType(proofpoint.TypeVAP), Is(pp("identity.vip"), "true")), []int{100650}},
		{"people: top clicker", One(bulk, ppType(proofpoint.TypeTopClicker)), []int{100606}},

		{"event type these rules do not know (an array TAP added)", One(bulk, ppType(ppFuture)), []int{100699}},

		// Correlation.
		{"clicks: one user clicking three blocked URLs", Same(3, pp("recipient"), nil, click("clicksBlocked", "phish", "active"), oneUser), []int{100631, 100631, 100660}},
		// A campaign's clicks name the threat threatID or threatId (TAP's
		// drift): Same reads either, as analysisd does.
		{"clicks: three users reaching one permitted URL (a campaign)", Same(3, pp("threatID"), []string{pp("recipient")}, click("clicksPermitted", "phish", "active"), oneUser), []int{100633, 100633, 100661}},
		{"messages: three threats delivered to one mailbox", Same(3, pp("recipient"), nil, bulk, ppType("messagesDelivered"), ppOnly("phish")), []int{100614, 100614, 100662}},
	}
}
