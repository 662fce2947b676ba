package lambdarun

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"
)

// Metric names of the CloudWatch Embedded Metric Format line written once
// per invocation. Per-code error counts are named ErrorMetricPrefix+code,
// e.g. "Errors_API_HTTP_401".
const (
	MetricEvents  = "Events"
	MetricPages   = "Pages"
	MetricErrors  = "Errors"
	MetricLag     = "LagSeconds"
	MetricBacklog = "Backlog"
	// ErrorMetricPrefix starts the per-error-code metrics.
	ErrorMetricPrefix = "Errors_"
)

// metric is one EMF metric value.
type metric struct {
	name  string
	unit  string
	value float64
}

// emfLine builds one EMF log line. Lambda sends every stdout line to
// CloudWatch Logs, which extracts the metrics from lines shaped like this;
// no API call and no extension are needed.
//
// Two dimension sets are declared: vendor/tenant/stream for per-stream
// alarms (cursor lag, no events) and vendor alone for fleet-wide ones.
// Invocations that never learned a valid stream (bad input, bad
// configuration) use only the vendor set, so a typo cannot create new
// metric streams.
func emfLine(namespace string, at time.Time, dims map[string]string, metrics []metric, props map[string]any) ([]byte, error) {
	sets := [][]string{{"vendor"}}
	if _, ok := dims["stream"]; ok {
		sets = [][]string{{"vendor", "tenant", "stream"}, {"vendor"}}
	}
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
		defs = append(defs, def{m.name, m.unit})
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

// runMetrics turns an invocation's output into metrics.
func runMetrics(o *Output) []metric {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	// Each metric costs per month for every tenant and stream, so only what
	// alarms and dashboards need is a metric; duplicates, lock skips and
	// duration stay plain fields of the same line (Logs Insights reads them).
	ms := []metric{
		{MetricEvents, "Count", float64(o.Events)},
		{MetricPages, "Count", float64(o.Pages)},
		{MetricErrors, "Count", float64(len(o.Errors))},
		{MetricBacklog, "None", b2f(o.Backlog)},
	}
	if o.LagSeconds != nil {
		ms = append(ms, metric{MetricLag, "Seconds", *o.LagSeconds})
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
		ms = append(ms, metric{ErrorMetricPrefix + c, "Count", float64(counts[c])})
	}
	return ms
}

// writeMetrics writes the invocation's EMF line in one Write call, so
// that it never interleaves with a log line.
func writeMetrics(w io.Writer, namespace string, at time.Time, o *Output, validStream bool) error {
	dims := map[string]string{"vendor": o.Vendor}
	if validStream {
		dims["tenant"] = o.Tenant
		dims["stream"] = o.Stream
	}
	props := map[string]any{"run_id": o.RunID, "stop": o.Stop, "success": o.Success,
		"duplicates": o.Duplicates, "locked": o.Locked, "duration_ms": o.DurationMs}
	line, err := emfLine(namespace, at, dims, runMetrics(o), props)
	if err != nil {
		return err
	}
	if _, err := w.Write(line); err != nil {
		return fmt.Errorf("lambdarun: write EMF metrics: %w", err)
	}
	return nil
}
