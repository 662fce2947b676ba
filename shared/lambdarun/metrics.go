package lambdarun

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// Metric names of the CloudWatch Embedded Metric Format line written once
// per invocation.
//
// CloudWatch bills every distinct combination of metric name and
// dimension values, every month it is reported: a metric per tenant
// would cost each tenant's streams $0.30 each. The metrics declared by
// default therefore carry only the vendor and the stream kind, so their
// number is fixed per deployment whatever the number of tenants, and an
// alarm on them still sees any single stream: Failed sums the failing
// streams, LagSeconds' Maximum is the worst stream's lag. Which tenant
// it was is in the same line (tenant, stream and every count are plain
// fields), for CloudWatch Logs Insights and the Contributor Insights rule
// that counts the streams that ran. WAZUH_PULL_TENANT_METRICS adds the
// per-tenant dimension set for those who want per-tenant graphs and pay
// for them.
const (
	// MetricEvents counts the events delivered and committed.
	MetricEvents = "Events"
	// MetricFailed is 1 when the stream failed (or the invocation was
	// refused), 0 otherwise: its Sum over a period is the number of
	// failing stream runs across tenants.
	MetricFailed = "Failed"
	// MetricLag is now − newest delivered event; absent when none was.
	MetricLag = "LagSeconds"
)

// Plain fields of the EMF line: numbers that are not declared as metrics
// (so cost nothing beyond the log bytes) but that Logs Insights reads.
const (
	FieldPages   = "Pages"
	FieldErrors  = "Errors"
	FieldBacklog = "Backlog"
	// ErrorFieldPrefix starts the per-error-code counts, e.g.
	// "Errors_API_HTTP_401".
	ErrorFieldPrefix = "Errors_"
)

// Dimension sets.
var (
	// fleetDimensions are always declared for an invocation that ran a
	// valid stream.
	fleetDimensions = []string{"vendor", "stream"}
	// tenantDimensions are added by WAZUH_PULL_TENANT_METRICS.
	tenantDimensions = []string{"vendor", "tenant", "stream"}
	// refusedDimensions serve invocations that never learned a valid
	// stream (bad input, bad configuration), so that a typo cannot create
	// new metrics.
	refusedDimensions = []string{"vendor"}
)

// metric is one value in the EMF line; declared ones become CloudWatch
// metrics, the others stay plain fields.
type metric struct {
	name     string
	unit     string
	value    float64
	declared bool
}

// emfLine builds one EMF log line. Lambda sends every stdout line to
// CloudWatch Logs, which extracts the metrics from lines shaped like this;
// no API call and no extension are needed.
func emfLine(namespace string, at time.Time, sets [][]string, dims map[string]string, metrics []metric, props map[string]any) ([]byte, error) {
	type def struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	defs := make([]def, 0, len(metrics))
	root := make(map[string]any, len(dims)+len(metrics)+len(props)+1)
	for k, v := range props {
		root[k] = v
	}
	for _, m := range metrics {
		if m.declared {
			defs = append(defs, def{m.name, m.unit})
		}
		root[m.name] = m.value
	}
	for k, v := range dims {
		root[k] = v
	}
	root["_aws"] = map[string]any{
		"Timestamp": at.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  namespace,
			"Dimensions": sets,
			"Metrics":    defs,
		}},
	}
	b, err := json.Marshal(root)
	if err != nil {
		return nil, fmt.Errorf("lambdarun: encode EMF metrics: %w", err)
	}
	return append(b, '\n'), nil
}

// runMetrics turns an invocation's output into the line's values.
func runMetrics(o *Output) []metric {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	ms := []metric{
		{MetricEvents, "Count", float64(o.Events), true},
		{MetricFailed, "Count", b2f(!o.Success), true},
		{FieldPages, "Count", float64(o.Pages), false},
		{FieldErrors, "Count", float64(len(o.Errors)), false},
		{FieldBacklog, "None", b2f(o.Backlog), false},
	}
	if o.LagSeconds != nil {
		ms = append(ms, metric{MetricLag, "Seconds", *o.LagSeconds, true})
	}
	counts := map[string]int{}
	for _, c := range o.Errors {
		counts[c]++
	}
	codes := make([]string, 0, len(counts))
	for c := range counts {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		ms = append(ms, metric{ErrorFieldPrefix + c, "Count", float64(counts[c]), false})
	}
	return ms
}

// metricsOptions say how an invocation's line is dimensioned.
type metricsOptions struct {
	// validStream is false for invocations refused before a stream was
	// known to be valid.
	validStream bool
	// perTenant adds the [vendor, tenant, stream] dimension set.
	perTenant bool
}

// dimensionSets returns the declared dimension sets.
func (mo metricsOptions) dimensionSets() [][]string {
	switch {
	case !mo.validStream:
		return [][]string{refusedDimensions}
	case mo.perTenant:
		return [][]string{fleetDimensions, tenantDimensions}
	}
	return [][]string{fleetDimensions}
}

// MetricsPerInvocation is how many CloudWatch metric values one
// invocation that ran a valid stream reports: the declared metrics times
// the dimension sets. The cost model (infra/cost) and the tests that
// measure it rely on it.
func MetricsPerInvocation(lagKnown, perTenant bool) int {
	names := 2 // Events, Failed
	if lagKnown {
		names++
	}
	sets := len(metricsOptions{validStream: true, perTenant: perTenant}.dimensionSets())
	return names * sets
}

// writeMetrics writes the invocation's EMF line in one Write call, so
// that it never interleaves with a log line.
func writeMetrics(w io.Writer, namespace string, at time.Time, o *Output, mo metricsOptions) error {
	dims := map[string]string{"vendor": o.Vendor}
	props := map[string]any{"run_id": o.RunID, "stop": o.Stop, "success": o.Success,
		"duplicates": o.Duplicates, "locked": o.Locked, "duration_ms": o.DurationMs, "paced_ms": o.PacedMs}
	if mo.validStream {
		// Dimensions when declared, plain fields otherwise: either way at
		// the root, where Logs Insights and Contributor Insights find them.
		dims["stream"] = o.Stream
		dims["tenant"] = o.Tenant
	}
	if len(o.Errors) > 0 {
		props["errors"] = o.Errors
	}
	line, err := emfLine(namespace, at, mo.dimensionSets(), dims, runMetrics(o), props)
	if err != nil {
		return err
	}
	if _, err := w.Write(line); err != nil {
		return fmt.Errorf("lambdarun: write EMF metrics: %w", err)
	}
	return nil
}
