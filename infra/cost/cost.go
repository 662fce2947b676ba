// Package cost is the AWS cost model of the deployment: the monthly cost
// of one tenant of one vendor, and the fixed cost of a deployment, from
// figures measured by the tests (figures.json: what one invocation does,
// counted on the wire under the Lambda runtime emulator) and the us-east-1
// list prices below.
//
// Measured (figures.json, refreshed with
// `go test ./infra -run TestLambdaUnderEmulator/measured -update-figures`):
// DynamoDB requests and the capacity units they cost, vendor requests,
// secret reads of a cold and a warm execution environment, the bytes and
// lines the function logs, the metric values of its EMF line, the alarms
// and Contributor Insights rules of the generated template.
//
// Assumed (Assumptions, written next to the table): network latencies,
// which decide Lambda's billed duration (the emulator runs on loopback),
// the size of Lambda's own platform log records, and how often a warm
// execution environment already holds a tenant's secret.
package cost

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Prices are the list prices the model assumes (us-east-1, no free tier:
// Lambda's and EventBridge Scheduler's free allowances are left out, so a
// small account pays less).
type Prices struct {
	LambdaRequestsPerMillion float64 // $0.20 per million requests
	LambdaArmGBSecond        float64 // $0.0000133334 per GB-second (arm64)
	SchedulerPerMillion      float64 // $1.00 per million invocations
	DynamoDBWritesPerMillion float64 // $0.625 per million write request units (on-demand)
	DynamoDBReadsPerMillion  float64 // $0.125 per million read request units (on-demand)
	SecretPerMonth           float64 // $0.40 per secret
	SecretCallsPer10k        float64 // $0.05 per 10 000 API calls
	LogsIngestionPerGB       float64 // $0.50 per GB (standard class)
	LogsStoragePerGBMonth    float64 // $0.03 per GB-month
	MetricPerMonth           float64 // $0.30 per custom metric (first 10 000)
	AlarmMetricPerMonth      float64 // $0.10 per standard-resolution alarm metric
	InsightRulePerMonth      float64 // $0.50 per Contributor Insights rule
	InsightEventsPerMillion  float64 // $0.02 per million log events matched
}

// USEast1 are the us-east-1 list prices the table uses.
var USEast1 = Prices{
	LambdaRequestsPerMillion: 0.20,
	LambdaArmGBSecond:        0.0000133334,
	SchedulerPerMillion:      1.00,
	DynamoDBWritesPerMillion: 0.625,
	DynamoDBReadsPerMillion:  0.125,
	SecretPerMonth:           0.40,
	SecretCallsPer10k:        0.05,
	LogsIngestionPerGB:       0.50,
	LogsStoragePerGBMonth:    0.03,
	MetricPerMonth:           0.30,
	AlarmMetricPerMonth:      0.10,
	InsightRulePerMonth:      0.50,
	InsightEventsPerMillion:  0.02,
}

// Invocation is what one invocation did, as measured.
type Invocation struct {
	// Events delivered and Pages committed.
	Events int `json:"events"`
	Pages  int `json:"pages"`
	// SeenKeys is the size of the stream's dedup set after the run.
	SeenKeys       int `json:"seen_keys"`
	VendorRequests int `json:"vendor_requests"`
	// DynamoDB requests, and the capacity units DynamoDB bills for them.
	DynamoDBWrites     int     `json:"dynamodb_writes"`
	DynamoDBWriteUnits float64 `json:"dynamodb_write_units"`
	DynamoDBReads      int     `json:"dynamodb_reads"`
	DynamoDBReadUnits  float64 `json:"dynamodb_read_units"`
	// StateItemBytes is the largest state item the invocation touched.
	StateItemBytes int `json:"state_item_bytes"`
	// SecretReads are GetSecretValue calls in a warm environment (the
	// cold figure is Figures.ColdSecretReads).
	SecretReads int `json:"secret_reads"`
	// LogLines and LogBytes are the function's own output lines (logs
	// and the EMF line), without Lambda's platform records.
	LogLines int `json:"log_lines"`
	LogBytes int `json:"log_bytes"`
	// MetricValues is the number of metric values the EMF line declares.
	MetricValues int `json:"metric_values"`
}

// Scenario is one measured kind of run.
type Scenario struct {
	// Name says what the tenant is ("quiet", "busy").
	Name string `json:"name"`
	// Interval is the schedule the scenario runs on.
	Interval Duration `json:"interval"`
	// EventsPerDay is what one stream of the tenant receives.
	EventsPerDay float64    `json:"events_per_day"`
	Measured     Invocation `json:"measured"`
}

// Figures are the measured inputs of the model (figures.json).
type Figures struct {
	Note      string     `json:"note"`
	Vendor    string     `json:"vendor"`
	Streams   int        `json:"streams"`
	Scenarios []Scenario `json:"scenarios"`
	// ColdSecretReads are the GetSecretValue calls of an environment's
	// first invocation (credentials and the syslog TLS material).
	ColdSecretReads int `json:"cold_secret_reads"`
	// MetricsPerStreamKind are the vendor's distinct metrics per stream
	// kind (fleet metrics: not per tenant).
	MetricsPerStreamKind int `json:"metrics_per_stream_kind"`
	// AlarmMetricsPerVendor are the metrics the vendor's alarms evaluate
	// (a metric-math alarm is billed per metric); AlarmMetricsShared the
	// deployment's own; InsightRulesPerVendor its Contributor Insights
	// rules.
	AlarmMetricsPerVendor int `json:"alarm_metrics_per_vendor"`
	AlarmMetricsShared    int `json:"alarm_metrics_shared"`
	InsightRulesPerVendor int `json:"insight_rules_per_vendor"`
}

// Duration is a time.Duration written as "5m0s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}

//go:embed figures.json
var figuresJSON []byte

// Measured returns the checked-in measured figures.
func Measured() (Figures, error) {
	var f Figures
	if err := json.Unmarshal(figuresJSON, &f); err != nil {
		return f, fmt.Errorf("cost: figures.json: %w", err)
	}
	return f, nil
}

// Assumptions are what the tests cannot measure.
type Assumptions struct {
	MemoryMB int
	// Latencies of the calls an invocation waits for, from a Lambda in
	// us-east-1: they, not the CPU, make the billed duration.
	VendorRequestMs   float64
	DynamoDBCallMs    float64
	SecretCallMs      float64
	RelayConnectMs    float64 // TCP and mutual-TLS handshake with the relay
	RelayConfirmMs    float64 // the delivery confirmation of each page
	CPUEventsPerVCPUS float64 // the warm function process, events per CPU-second
	// PlatformLogBytes are Lambda's own JSON records per invocation
	// (platform.start and platform.report) and LogEventOverheadBytes what
	// CloudWatch Logs bills per log event on top of its bytes.
	PlatformLogBytes      int
	PlatformLogLines      int
	LogEventOverheadBytes int
	LogRetentionDays      int
	SecretTTL             time.Duration
	// Tenants is the deployment's number of tenants of the vendor: it
	// shares the fixed cost, and decides how often a warm environment
	// already holds the tenant's secret.
	Tenants int
	// Vendors is how many vendors share a tenant's secret in the
	// per-tenant secret layout.
	Vendors int
}

// Default are the assumptions of the table.
var Default = Assumptions{
	MemoryMB:        256,
	VendorRequestMs: 300,
	DynamoDBCallMs:  10,
	SecretCallMs:    30,
	RelayConnectMs:  100,
	RelayConfirmMs:  30,
	// BenchmarkInvocationRealistic (functions/onepassword/lambda): 13.7–13.8
	// µs of the function's CPU per realistic event, relay and DynamoDB
	// clients included.
	CPUEventsPerVCPUS:     70_000,
	PlatformLogBytes:      750,
	PlatformLogLines:      2,
	LogEventOverheadBytes: 26,
	LogRetentionDays:      30,
	SecretTTL:             15 * time.Minute,
	Tenants:               10,
	Vendors:               3,
}

// Layout is how credentials are spread over secrets (awssm.Layout).
type Layout string

// The secret layouts.
const (
	PerTenantAndVendor Layout = "tenant-vendor"
	PerTenant          Layout = "tenant"
	PerVendor          Layout = "vendor"
)

// Line is one item of a monthly cost.
type Line struct {
	Item   string
	Volume string
	USD    float64
}

// Breakdown is a monthly cost by item.
type Breakdown struct {
	Lines []Line
}

// Total sums the lines.
func (b Breakdown) Total() float64 {
	t := 0.0
	for _, l := range b.Lines {
		t += l.USD
	}
	return t
}

func (b *Breakdown) add(item, volume string, usd float64) {
	b.Lines = append(b.Lines, Line{item, volume, usd})
}

// daysPerMonth is the average month.
const daysPerMonth = 365.25 / 12

// InvocationsPerMonth of one stream on a schedule.
func InvocationsPerMonth(interval time.Duration) float64 {
	return daysPerMonth * 24 * float64(time.Hour) / float64(interval)
}

// BilledSeconds is the duration Lambda bills for an invocation: the
// calls it waits for (measured counts times assumed latencies) and the
// CPU its events take at the memory's share of a vCPU.
func BilledSeconds(inv Invocation, secretReads float64, a Assumptions) float64 {
	vcpu := float64(a.MemoryMB) / 1769
	ms := float64(inv.VendorRequests)*a.VendorRequestMs +
		float64(inv.DynamoDBWrites+inv.DynamoDBReads)*a.DynamoDBCallMs +
		secretReads*a.SecretCallMs +
		a.RelayConnectMs + float64(max(inv.Pages, 1))*a.RelayConfirmMs +
		float64(inv.Events)/(a.CPUEventsPerVCPUS*vcpu)*1000
	return math.Ceil(ms) / 1000
}

// PageMs is the billed duration, in milliseconds, that one page of events
// adds to a warm invocation: its vendor request, its commit (one
// conditional DynamoDB write), its delivery confirmation and the CPU its
// events take at the memory's share of a vCPU.
func PageMs(events int, a Assumptions) float64 {
	vcpu := float64(a.MemoryMB) / 1769
	return a.VendorRequestMs + a.DynamoDBCallMs + a.RelayConfirmMs + float64(events)/(a.CPUEventsPerVCPUS*vcpu)*1000
}

// secretReadsPerInvocation is how often an invocation reads its tenant's
// credentials: an environment keeps a secret for the TTL, and serves one
// invocation per interval of some tenant (every schedule fires at once,
// so the environments are as many as the vendor's tenants times streams
// and each picks up whichever invocation comes). A tenant's secret is
// then still cached with probability 1-(1-1/N)^K, K invocations per TTL;
// at least once per TTL it is read. A per-vendor secret holds every
// tenant: one read per environment and TTL.
func secretReadsPerInvocation(interval time.Duration, layout Layout, a Assumptions) (credentials, tls float64) {
	k := math.Max(1, math.Floor(float64(a.SecretTTL)/float64(interval)))
	tls = 1 / k
	if layout == PerVendor {
		return 1 / k, tls
	}
	miss := math.Pow(1-1/float64(a.Tenants), k)
	return math.Max(1/k, miss), tls
}

// Tenant is the monthly cost of one tenant of one vendor (all its
// streams), the fixed costs of the deployment left out.
func Tenant(f Figures, s Scenario, layout Layout, perTenantMetrics bool, a Assumptions, p Prices) Breakdown {
	var b Breakdown
	interval := time.Duration(s.Interval)
	inv := InvocationsPerMonth(interval) * float64(f.Streams)
	m := s.Measured
	creds, tls := secretReadsPerInvocation(interval, layout, a)
	secretReads := creds + tls

	b.add("Lambda requests", fmt.Sprintf("%s invocations", count(inv)), inv*p.LambdaRequestsPerMillion/1e6)
	sec := BilledSeconds(m, secretReads, a)
	gbs := inv * sec * float64(a.MemoryMB) / 1024
	b.add("Lambda duration (arm64)", fmt.Sprintf("%.0f ms × %d MB", sec*1000, a.MemoryMB), gbs*p.LambdaArmGBSecond)
	b.add("EventBridge Scheduler", fmt.Sprintf("%s invocations", count(inv)), inv*p.SchedulerPerMillion/1e6)
	b.add("DynamoDB writes", fmt.Sprintf("%s, %g WRU per invocation", plural(m.DynamoDBWrites, "write"), m.DynamoDBWriteUnits), inv*m.DynamoDBWriteUnits*p.DynamoDBWritesPerMillion/1e6)
	b.add("DynamoDB reads", fmt.Sprintf("%s, %g RRU per invocation", plural(m.DynamoDBReads, "read"), m.DynamoDBReadUnits), inv*m.DynamoDBReadUnits*p.DynamoDBReadsPerMillion/1e6)

	secrets := 1.0
	switch layout {
	case PerTenant:
		secrets = 1 / float64(a.Vendors)
	case PerVendor:
		secrets = 1 / float64(a.Tenants)
	}
	b.add("Secrets Manager secret", fmt.Sprintf("%.2f secret (%s layout)", secrets, layout), secrets*p.SecretPerMonth)
	b.add("Secrets Manager reads", fmt.Sprintf("%.2f per invocation", secretReads), inv*secretReads*p.SecretCallsPer10k/1e4)

	lines := float64(m.LogLines + a.PlatformLogLines)
	bytes := float64(m.LogBytes+a.PlatformLogBytes) + lines*float64(a.LogEventOverheadBytes)
	gb := inv * bytes / (1 << 30)
	b.add("CloudWatch Logs", fmt.Sprintf("%.1f KB per invocation, %d days kept", bytes/1024, a.LogRetentionDays),
		gb*p.LogsIngestionPerGB+gb*p.LogsStoragePerGBMonth*float64(a.LogRetentionDays)/daysPerMonth)
	b.add("Contributor Insights events", "one EMF line per invocation", inv*p.InsightEventsPerMillion/1e6)
	if perTenantMetrics {
		n := float64(f.MetricsPerStreamKind * f.Streams)
		b.add("Per-tenant metrics (TenantMetrics=true)", fmt.Sprintf("%.0f metrics", n), n*p.MetricPerMonth)
	}
	return b
}

// Fixed is the monthly cost of deploying a vendor, whatever its number
// of tenants: its fleet metrics, alarms and Contributor Insights rules,
// with the deployment's shared alarms and syslog TLS secret counted in
// full (they are shared by every vendor deployed together).
func Fixed(f Figures, p Prices) Breakdown {
	var b Breakdown
	metrics := float64(f.MetricsPerStreamKind * f.Streams)
	b.add("Metrics per vendor and stream kind", fmt.Sprintf("%.0f metrics", metrics), metrics*p.MetricPerMonth)
	b.add("Alarms", fmt.Sprintf("%d alarm metrics (+%d shared)", f.AlarmMetricsPerVendor, f.AlarmMetricsShared),
		float64(f.AlarmMetricsPerVendor+f.AlarmMetricsShared)*p.AlarmMetricPerMonth)
	b.add("Contributor Insights rules", plural(f.InsightRulesPerVendor, "rule"), float64(f.InsightRulesPerVendor)*p.InsightRulePerMonth)
	b.add("Syslog TLS secret (shared)", "1 secret", p.SecretPerMonth)
	return b
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func count(n float64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.2f M", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f k", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}

// Table writes the README's cost section: per tenant and vendor for each
// measured scenario, the layouts, the fixed cost, and the assumptions.
func Table(f Figures, a Assumptions, p Prices) string {
	var w strings.Builder
	fixed := Fixed(f, p)
	fmt.Fprintf(&w, "Monthly AWS cost of one %s tenant (its %d streams), us-east-1 list prices, computed by\n", f.Vendor, f.Streams)
	fmt.Fprintf(&w, "`go run ./infra/cmd/costmodel` from the figures measured by the tests (`infra/cost/figures.json`).\n\n")
	fmt.Fprintf(&w, "| Item |")
	for _, s := range f.Scenarios {
		fmt.Fprintf(&w, " %s, every %s |", s.Name, shortDuration(time.Duration(s.Interval)))
	}
	fmt.Fprintf(&w, "\n|---|")
	for range f.Scenarios {
		fmt.Fprintf(&w, "---:|")
	}
	fmt.Fprintln(&w)
	var rows []Breakdown
	for _, s := range f.Scenarios {
		rows = append(rows, Tenant(f, s, PerTenantAndVendor, false, a, p))
	}
	for i, l := range rows[0].Lines {
		fmt.Fprintf(&w, "| %s |", l.Item)
		for _, r := range rows {
			fmt.Fprintf(&w, " $%.3f <br>%s |", r.Lines[i].USD, r.Lines[i].Volume)
		}
		fmt.Fprintln(&w)
	}
	fmt.Fprintf(&w, "| **Per tenant and vendor** (one secret per tenant and vendor) |")
	for _, r := range rows {
		fmt.Fprintf(&w, " **$%.2f** |", r.Total())
	}
	fmt.Fprintln(&w)
	for _, l := range []struct {
		layout Layout
		label  string
	}{{PerTenant, fmt.Sprintf("… with one secret per tenant for %d vendors", a.Vendors)}, {PerVendor, fmt.Sprintf("… with one secret per vendor for %d tenants", a.Tenants)}} {
		fmt.Fprintf(&w, "| %s |", l.label)
		for _, s := range f.Scenarios {
			fmt.Fprintf(&w, " $%.2f |", Tenant(f, s, l.layout, false, a, p).Total())
		}
		fmt.Fprintln(&w)
	}
	fmt.Fprintf(&w, "| … with per-tenant metrics (`TenantMetrics=true`, one secret per tenant and vendor) |")
	for _, s := range f.Scenarios {
		fmt.Fprintf(&w, " $%.2f |", Tenant(f, s, PerTenantAndVendor, true, a, p).Total())
	}
	fmt.Fprintln(&w)
	fmt.Fprintf(&w, "| Fixed per deployment of the vendor, whatever its tenants (%s) | ", fixedItems(fixed))
	for range f.Scenarios {
		fmt.Fprintf(&w, " $%.2f |", fixed.Total())
	}
	fmt.Fprintln(&w)
	fmt.Fprintf(&w, "| **Per tenant, fixed cost shared by %d tenants** |", a.Tenants)
	for _, r := range rows {
		fmt.Fprintf(&w, " **$%.2f** |", r.Total()+fixed.Total()/float64(a.Tenants))
	}
	fmt.Fprintln(&w)
	fmt.Fprintf(&w, "| … the same with one secret per tenant for %d vendors |", a.Vendors)
	for _, s := range f.Scenarios {
		fmt.Fprintf(&w, " $%.2f |", Tenant(f, s, PerTenant, false, a, p).Total()+fixed.Total()/float64(a.Tenants))
	}
	fmt.Fprintln(&w)

	fmt.Fprintf(&w, "\nMeasured per invocation (%s):\n\n", f.Note)
	fmt.Fprintf(&w, "| Scenario | events | pages | vendor requests | DynamoDB writes (WRU) | reads (RRU) | state item | log lines (bytes) | metric values |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range f.Scenarios {
		m := s.Measured
		fmt.Fprintf(&w, "| %s, every %s (%.0f events a day per stream) | %d | %d | %d | %d (%g) | %d (%g) | %d B, %d dedup keys | %d (%d) | %d |\n",
			s.Name, shortDuration(time.Duration(s.Interval)), s.EventsPerDay, m.Events, m.Pages, m.VendorRequests, m.DynamoDBWrites, m.DynamoDBWriteUnits,
			m.DynamoDBReads, m.DynamoDBReadUnits, m.StateItemBytes, m.SeenKeys, m.LogLines, m.LogBytes, m.MetricValues)
	}
	fmt.Fprintf(&w, "\nA cold environment reads %d secrets (credentials and TLS material), a warm one none within `SecretTtl`.\n", f.ColdSecretReads)
	fmt.Fprintf(&w, "\nA page of 1 000 events adds about %.0f ms to an invocation's billed duration (%.0f ms of it CPU, at %g events per vCPU-second).\n", PageMs(1000, a), PageMs(1000, a)-PageMs(0, a), a.CPUEventsPerVCPUS)
	fmt.Fprintf(&w, "\nAssumed: %d MB; latencies %g ms per vendor request, %g ms per DynamoDB call, %g ms per secret read, %g ms to connect to the relay (mutual TLS) and %g ms per page confirmation; %g events per vCPU-second (the warm function under the emulator) at %d/1769 of a vCPU; %d bytes of Lambda platform records and %d bytes per log event; logs kept %d days; secrets cached %s, with %d tenants per deployment deciding how often a warm environment already holds a tenant's secret; %d vendors share a per-tenant secret. ",
		a.MemoryMB, a.VendorRequestMs, a.DynamoDBCallMs, a.SecretCallMs, a.RelayConnectMs, a.RelayConfirmMs, a.CPUEventsPerVCPUS, a.MemoryMB,
		a.PlatformLogBytes, a.LogEventOverheadBytes, a.LogRetentionDays, a.SecretTTL, a.Tenants, a.Vendors)
	fmt.Fprintf(&w, "Prices (us-east-1): Lambda $%g per million requests and $%g per GB-second (arm64); EventBridge Scheduler $%g per million (free tier left out); DynamoDB on-demand $%g per million WRU and $%g per million RRU; Secrets Manager $%g per secret and $%g per 10 000 calls; CloudWatch Logs $%g per GB ingested and $%g per GB-month; custom metrics $%g each; alarms $%g per metric; Contributor Insights $%g per rule and $%g per million events matched.\n",
		p.LambdaRequestsPerMillion, p.LambdaArmGBSecond, p.SchedulerPerMillion, p.DynamoDBWritesPerMillion, p.DynamoDBReadsPerMillion, p.SecretPerMonth,
		p.SecretCallsPer10k, p.LogsIngestionPerGB, p.LogsStoragePerGBMonth, p.MetricPerMonth, p.AlarmMetricPerMonth, p.InsightRulePerMonth, p.InsightEventsPerMillion)
	return w.String()
}

func fixedItems(b Breakdown) string {
	var parts []string
	for _, l := range b.Lines {
		parts = append(parts, fmt.Sprintf("%s: %s ($%.2f)", l.Item, l.Volume, l.USD))
	}
	return strings.Join(parts, ", ")
}

func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

// Markers around the generated table in a README.
const (
	BeginMarker = "<!-- cost table: generated by go run ./infra/cmd/costmodel -readme infra/README.md -->"
	EndMarker   = "<!-- end cost table -->"
)

// ReplaceTable puts table between the markers of doc.
func ReplaceTable(doc, table string) (string, error) {
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %q … %q markers", BeginMarker, EndMarker)
	}
	return doc[:i+len(BeginMarker)] + "\n" + table + doc[j:], nil
}

// TableIn returns the table between the markers of doc.
func TableIn(doc string) (string, bool) {
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", false
	}
	return strings.TrimPrefix(doc[i+len(BeginMarker):j], "\n"), true
}
