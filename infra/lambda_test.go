package infra

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/functions/registry"
	"github.com/wazuh-pull/wazuh-pull/infra/cost"
	"github.com/wazuh-pull/wazuh-pull/infra/gen"
	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

var updateFigures = flag.Bool("update-figures", false, "write the figures TestLambdaUnderEmulator measures to cost/figures.json")

// figuresPath is the cost model's input, relative to this package.
const figuresPath = "cost/figures.json"

// TestLambdaUnderEmulator runs the real 1Password bootstrap under the
// Lambda runtime emulator, wired as the template wires it, and checks
// what the template and the cost model rely on: that the alarms fire
// from the EMF lines alone for a stream that lags, stops or fails, and
// the figures the cost model is fed.
func TestLambdaUnderEmulator(t *testing.T) {
	t.Parallel()
	bootstrap := rietest.Build(t, onepasswordLambda, t.TempDir())
	t.Run("alarms fire from the EMF lines", func(t *testing.T) { t.Parallel(); testAlarmsFire(t, bootstrap) })
	t.Run("measured figures", func(t *testing.T) { t.Parallel(); testMeasuredFigures(t, bootstrap) })
}

type pair struct{ tenant, stream string }

// testAlarmsFire plays rounds of scheduled runs of two tenants' three
// streams each, and evaluates the template's EMF-based alarms over each
// round's lines as one period: with metrics that name no tenant, an
// alarm still fires when one stream of one tenant lags, stops or fails,
// and the round's lines (their plain fields, as Logs Insights reads
// them) name the tenant and stream.
func testAlarmsFire(t *testing.T, bootstrap string) {
	tenants := []string{"acme", "globex"}
	w := newWorld(t, bootstrap, tenants...)
	tmpl := loadTemplate(t)
	values := map[string]string{"OnepasswordTenants": strings.Join(tenants, ",")}
	lists := map[string][]string{"OnepasswordTenants": tenants}
	// The other vendors are not deployed in this test.
	for _, d := range registry.Vendors() {
		if id := gen.VendorID(d); id != gen.VendorID(onepassword.Descriptor()) {
			values[id+"Tenants"], lists[id+"Tenants"] = "", nil
		}
	}
	res, err := expandForEach(tmpl["Resources"].(map[string]any), lists)
	if err != nil {
		t.Fatal(err)
	}
	params := tmpl["Parameters"].(map[string]any)
	param := func(name string) string {
		if v, ok := values[name]; ok {
			return v
		}
		d, ok := lookup(params, name, "Default")
		if !ok {
			t.Fatalf("parameter %s has no value in this test", name)
		}
		return d.(string)
	}
	alarms := []string{"OnepasswordFailingStreamsAlarm", "OnepasswordLagAlarm", "OnepasswordStaleStreamsAlarm", "OnepasswordNoEventsAlarm"}
	var all []pair
	for _, tenant := range tenants {
		for _, s := range onepassword.StreamNames() {
			all = append(all, pair{tenant, s})
		}
	}

	// round invokes the pairs and returns the round's EMF lines.
	round := func(name string, pairs []pair, want map[string]bool) []map[string]any {
		t.Helper()
		var lines []map[string]any
		for _, p := range pairs {
			res := w.invoke(p.tenant, p.stream)
			ls, _ := w.linesOf(runID(t, res))
			emf := emfOf(t, ls)
			// Fleet metrics only: per vendor and stream kind, the number
			// the cost model counts.
			dir, _ := emfDirective(emf)
			dims, _ := json.Marshal(dir["Dimensions"])
			_, lag := emf[lambdarun.MetricLag]
			if string(dims) != `[["vendor","stream"]]` || len(dir["Metrics"].([]any)) != lambdarun.MetricsPerInvocation(lag, false) {
				t.Errorf("%s: %s/%s declares %s with %d metrics, want [[vendor stream]] and %d", name, p.tenant, p.stream, dims, len(dir["Metrics"].([]any)), lambdarun.MetricsPerInvocation(lag, false))
			}
			if emf["tenant"] != p.tenant || emf["stream"] != p.stream {
				t.Errorf("%s: the EMF line of %v does not name it: %v/%v", name, p, emf["tenant"], emf["stream"])
			}
			lines = append(lines, emf)
		}
		cw := &cloudwatch{t: t, lines: lines, resources: res, param: param}
		for _, id := range alarms {
			fires, value, has := cw.alarm(id)
			if fires != want[id] {
				t.Errorf("round %q: %s fires %v (value %v, data %v), want %v", name, id, fires, value, has, want[id])
			}
		}
		return lines
	}
	fresh := func(pairs []pair) {
		for _, p := range pairs {
			w.generate(p.tenant, p.stream, 3, time.Now().Add(-time.Minute), time.Second)
		}
	}
	without := func(skip pair) []pair {
		return slices.DeleteFunc(slices.Clone(all), func(p pair) bool { return p == skip })
	}

	// A stream lags: acme's audit stream only has events two hours old.
	fresh(without(pair{"acme", "audit"}))
	w.generate("acme", "audit", 3, time.Now().Add(-2*time.Hour), time.Second)
	lines := round("acme audit lags", all, map[string]bool{"OnepasswordLagAlarm": true})
	// Logs Insights: stats max(LagSeconds) by tenant, stream | sort desc.
	if worst := maxBy(lines, lambdarun.MetricLag); worst != (pair{"acme", "audit"}) {
		t.Errorf("the worst lag is named %v, want acme/audit", worst)
	}

	fresh(all)
	round("healthy", all, map[string]bool{})

	// A stream stops: globex's itemusage schedule does not run.
	fresh(all)
	lines = round("globex itemusage stops", without(pair{"globex", "itemusage"}), map[string]bool{"OnepasswordStaleStreamsAlarm": true})
	ran := map[pair]bool{}
	for _, l := range lines {
		ran[pair{l["tenant"].(string), l["stream"].(string)}] = true
	}
	if missing := slices.DeleteFunc(slices.Clone(all), func(p pair) bool { return ran[p] }); !slices.Equal(missing, []pair{{"globex", "itemusage"}}) {
		t.Errorf("the lines name %v as not run, want globex/itemusage", missing)
	}

	// A stream fails: globex's token is revoked.
	w.sim.RevokeToken(w.tokens["globex"])
	fresh(all)
	lines = round("globex fails", all, map[string]bool{"OnepasswordFailingStreamsAlarm": true})
	failing := map[string]bool{}
	for _, l := range lines {
		if l[lambdarun.MetricFailed] == 1.0 {
			failing[l["tenant"].(string)] = true
			if codes, _ := json.Marshal(l["errors"]); !strings.Contains(string(codes), "API_HTTP_401") {
				t.Errorf("failing line of %v/%v: errors %s, want API_HTTP_401", l["tenant"], l["stream"], codes)
			}
		}
	}
	if len(failing) != 1 || !failing["globex"] {
		t.Errorf("failing tenants named %v, want globex", failing)
	}

	// Nothing new anywhere (and globex still failing): no events at all.
	round("nothing delivered", all, map[string]bool{"OnepasswordNoEventsAlarm": true, "OnepasswordFailingStreamsAlarm": true})
}

// maxBy returns the tenant and stream of the line with the largest value.
func maxBy(lines []map[string]any, field string) pair {
	best, worst := math.Inf(-1), pair{}
	for _, l := range lines {
		if v, ok := l[field].(float64); ok && v > best {
			best, worst = v, pair{l["tenant"].(string), l["stream"].(string)}
		}
	}
	return worst
}

// testMeasuredFigures measures what one invocation does in each scenario
// of the cost model, checks that the template allows exactly what the
// function calls, and compares the figures with cost/figures.json (or
// writes them, with -update-figures).
func testMeasuredFigures(t *testing.T, bootstrap string) {
	const tenant = "acme"
	// busy: 100 events per stream every 5 minutes (28 800 a day), one
	// every 3 seconds.
	const busyEvents, step = 100, 3 * time.Second
	w := newWorld(t, bootstrap, tenant)

	measure := func(stream string) (cost.Invocation, int) {
		t.Helper()
		before := w.itemSizes()
		w.ddb.take()
		reads := w.SecretReads()
		requests := w.sim.RequestCount()
		res := w.invoke(tenant, stream)
		var out lambdarun.Output
		if err := res.Decode(&out); err != nil || !out.Success {
			t.Fatalf("%s: %+v %v\n%s", stream, out, err, w.rie.Log())
		}
		u := priceDynamoDB(w.ddb.take(), before, w.itemSizes())
		lines, raw := w.linesOf(out.RunID)
		emf := emfOf(t, lines)
		dir, _ := emfDirective(emf)
		inv := cost.Invocation{
			Events: int(out.Events), Pages: int(out.Pages), SeenKeys: w.seenKeys(state.Key{Tenant: tenant, Vendor: onepassword.Vendor, Stream: stream}),
			VendorRequests: w.sim.RequestCount() - requests,
			DynamoDBWrites: u.Writes, DynamoDBWriteUnits: u.WriteUnits, DynamoDBReads: u.Reads, DynamoDBReadUnits: u.ReadUnits,
			StateItemBytes: u.LargestItemBytes, SecretReads: w.SecretReads() - reads,
			LogLines:     len(raw),
			MetricValues: len(dir["Metrics"].([]any)) * len(dir["Dimensions"].([]any)),
		}
		for _, b := range raw {
			inv.LogBytes += len(b) + 1
		}
		// The template's policy allows every call, on these keys only.
		for op := range u.Ops {
			action := "dynamodb:" + strings.TrimPrefix(op, "DynamoDB.")
			if !slices.Contains(gen.StateActions, action) {
				t.Errorf("the function calls %s, which gen.StateActions (the IAM policy) does not allow", action)
			}
		}
		for _, k := range u.Keys {
			if !globMatch("*/"+onepassword.Vendor+"/*", k) {
				t.Errorf("the function touches key %q, outside the policy's dynamodb:LeadingKeys */%s/*", k, onepassword.Vendor)
			}
		}
		t.Logf("%s: %+v (emulator %s)", stream, inv, res.Elapsed.Round(time.Millisecond))
		return inv, inv.SecretReads
	}

	// A cold environment reads the credentials and the TLS material; the
	// stream's first run reads the lookback (nothing there).
	_, cold := measure("signin")
	quiet5, _ := measure("signin")
	quiet1, _ := measure("signin")

	// The busy stream's events, all in the past: a first run catches up a
	// first batch, then a 5-minute run takes the next 100 and a 1-minute
	// run the next 20, the dedup set holding the last 5 minutes of events
	// as in steady state.
	t0 := time.Now().Add(-2 * time.Minute)
	span := time.Duration(busyEvents) * step
	w.generate(tenant, "audit", busyEvents, t0.Add(-span-time.Minute/2), step)
	measure("audit")
	w.generate(tenant, "audit", busyEvents, t0, step)
	busy5, _ := measure("audit")
	w.generate(tenant, "audit", busyEvents/5, t0.Add(span/5), step)
	busy1, _ := measure("audit")

	got := cost.Figures{
		Note:            "1Password bootstrap under aws-lambda-rie, moto, the simulator and the mutual-TLS relay; DynamoDB units from the item sizes before and after each request",
		Vendor:          onepassword.Vendor,
		Streams:         len(onepassword.StreamNames()),
		ColdSecretReads: cold,
		Scenarios: []cost.Scenario{
			{Name: "quiet", Interval: cost.Duration(5 * time.Minute), Measured: quiet5},
			{Name: "busy", Interval: cost.Duration(5 * time.Minute), EventsPerDay: busyEvents * 288, Measured: busy5},
			{Name: "quiet", Interval: cost.Duration(time.Minute), Measured: quiet1},
			{Name: "busy", Interval: cost.Duration(time.Minute), EventsPerDay: busyEvents * 288, Measured: busy1},
		},
	}
	got.MetricsPerStreamKind = busy5.MetricValues
	got.AlarmMetricsPerVendor, got.AlarmMetricsShared, got.InsightRulesPerVendor = countAlarms(t)

	if quiet5.Events != 0 || busy5.Events != busyEvents || busy1.Events != busyEvents/5 || cold != 2 || quiet5.SecretReads != 0 || busy5.SecretReads != 0 {
		t.Errorf("scenarios did not run as planned: cold reads %d, quiet %+v, busy %+v, busy1 %+v", cold, quiet5, busy5, busy1)
	}
	// The metric count the model relies on.
	if busy5.MetricValues != lambdarun.MetricsPerInvocation(true, false) || quiet5.MetricValues != lambdarun.MetricsPerInvocation(false, false) {
		t.Errorf("metric values per invocation: busy %d, quiet %d; lambdarun says %d and %d", busy5.MetricValues, quiet5.MetricValues,
			lambdarun.MetricsPerInvocation(true, false), lambdarun.MetricsPerInvocation(false, false))
	}

	if *updateFigures {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(figuresPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s; regenerate the README's cost table: go run ./infra/cmd/costmodel -readme infra/README.md", figuresPath)
		return
	}
	want, err := cost.Measured()
	if err != nil {
		t.Fatal(err)
	}
	if diff := compareFigures(want, got); diff != "" {
		t.Errorf("the measured figures differ from %s (the cost model's input):\n%s\nIf the change is expected, refresh them:\n\tgo test ./infra -run 'TestLambdaUnderEmulator/measured' -update-figures\n\tgo run ./infra/cmd/costmodel -readme infra/README.md", figuresPath, diff)
	}
}

// compareFigures reports differences: counts must match exactly, byte
// sizes within 10% (timestamps and ids vary in length a little).
func compareFigures(want, got cost.Figures) string {
	var diffs []string
	eq := func(what string, w, g any) {
		if fmt.Sprint(w) != fmt.Sprint(g) {
			diffs = append(diffs, fmt.Sprintf("%s: recorded %v, measured %v", what, w, g))
		}
	}
	near := func(what string, w, g int) {
		if math.Abs(float64(g-w)) > 0.1*float64(w) {
			diffs = append(diffs, fmt.Sprintf("%s: recorded %d, measured %d (more than 10%% off)", what, w, g))
		}
	}
	eq("streams", want.Streams, got.Streams)
	eq("cold secret reads", want.ColdSecretReads, got.ColdSecretReads)
	eq("metrics per stream kind", want.MetricsPerStreamKind, got.MetricsPerStreamKind)
	eq("alarm metrics per vendor", want.AlarmMetricsPerVendor, got.AlarmMetricsPerVendor)
	eq("alarm metrics shared", want.AlarmMetricsShared, got.AlarmMetricsShared)
	eq("insight rules per vendor", want.InsightRulesPerVendor, got.InsightRulesPerVendor)
	if len(want.Scenarios) != len(got.Scenarios) {
		return fmt.Sprintf("%d scenarios recorded, %d measured", len(want.Scenarios), len(got.Scenarios))
	}
	for i, w := range want.Scenarios {
		g := got.Scenarios[i]
		name := fmt.Sprintf("%s every %v", w.Name, time.Duration(w.Interval))
		eq(name+": scenario", fmt.Sprint(w.Name, w.Interval, w.EventsPerDay), fmt.Sprint(g.Name, g.Interval, g.EventsPerDay))
		wm, gm := w.Measured, g.Measured
		eq(name+": events", wm.Events, gm.Events)
		eq(name+": pages", wm.Pages, gm.Pages)
		eq(name+": seen keys", wm.SeenKeys, gm.SeenKeys)
		eq(name+": vendor requests", wm.VendorRequests, gm.VendorRequests)
		eq(name+": DynamoDB writes", wm.DynamoDBWrites, gm.DynamoDBWrites)
		eq(name+": DynamoDB write units", wm.DynamoDBWriteUnits, gm.DynamoDBWriteUnits)
		eq(name+": DynamoDB reads", wm.DynamoDBReads, gm.DynamoDBReads)
		eq(name+": DynamoDB read units", wm.DynamoDBReadUnits, gm.DynamoDBReadUnits)
		eq(name+": secret reads", wm.SecretReads, gm.SecretReads)
		eq(name+": log lines", wm.LogLines, gm.LogLines)
		eq(name+": metric values", wm.MetricValues, gm.MetricValues)
		near(name+": state item bytes", wm.StateItemBytes, gm.StateItemBytes)
		near(name+": log bytes", wm.LogBytes, gm.LogBytes)
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "\n")
}

// countAlarms counts, in the checked-in template, the metrics the
// 1Password alarms evaluate (what CloudWatch bills an alarm by), the
// shared alarms' metrics, and the vendor's Contributor Insights rules.
func countAlarms(t *testing.T) (perVendor, shared, rules int) {
	tmpl := loadTemplate(t)
	id := gen.VendorID(onepassword.Descriptor())
	// Another vendor's alarms are its own, not shared.
	var others []string
	for _, d := range registry.Vendors() {
		if other := gen.VendorID(d); other != id {
			others = append(others, other)
		}
	}
	isOther := func(name string) bool {
		for _, o := range others {
			if strings.HasPrefix(name, o) {
				return true
			}
		}
		return false
	}
	for name, r := range tmpl["Resources"].(map[string]any) {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		switch m["Type"] {
		case "AWS::CloudWatch::InsightRule":
			if strings.HasPrefix(name, id) {
				rules++
			}
		case "AWS::CloudWatch::Alarm":
			n := 1
			if qs, ok := lookup(m, "Properties", "Metrics"); ok {
				n = 0
				for _, q := range qs.([]any) {
					_, stat := q.(map[string]any)["MetricStat"]
					expr, _ := q.(map[string]any)["Expression"]
					if stat || strings.Contains(fmt.Sprint(expr), "INSIGHT_RULE_METRIC") {
						n++
					}
				}
			}
			if strings.HasPrefix(name, id) {
				perVendor += n
			} else if !isOther(name) {
				shared += n
			}
		}
	}
	return perVendor, shared, rules
}

// seenKeys is the size of a stream's dedup set as stored, read through
// the store itself (head and chunk items).
func (w *world) seenKeys(k state.Key) int {
	w.t.Helper()
	ctx := awstest.Context(w.t, time.Minute)
	l, err := dynamostore.New(w.DB, w.Table).Lock(ctx, k, state.LockOptions{Owner: "test", TTL: time.Minute})
	if err != nil {
		w.t.Fatal(err)
	}
	defer l.Release(ctx)
	rec, err := l.Load(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return len(rec.Seen)
}
