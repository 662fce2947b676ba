package lambdarun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestEMFShape checks the rules CloudWatch applies to an EMF line: every
// declared metric is a number at the root, every dimension a string at
// the root, and the line is one JSON object ending in a newline; and what
// is declared: per vendor and stream kind only, unless per-tenant metrics
// are asked for.
func TestEMFShape(t *testing.T) {
	lag := 12.5
	o := &Output{Vendor: "testvendor", Tenant: "acme", Stream: "alpha", RunID: "r1", Stop: "error",
		Events: 7, Pages: 2, Duplicates: 1, Backlog: true, LagSeconds: &lag, DurationMs: 900, PacedMs: 1200,
		Errors: []string{"API_HTTP_429", "DELIVERY_FAILED", "API_HTTP_429"}}
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		perTenant bool
		dims      string
	}{
		{false, `[["vendor","stream"]]`},
		{true, `[["vendor","stream"],["vendor","tenant","stream"]]`},
	} {
		var buf bytes.Buffer
		if err := writeMetrics(&buf, "WazuhPull", at, o, metricsOptions{validStream: true, perTenant: c.perTenant}); err != nil {
			t.Fatal(err)
		}
		m, dir := decodeEMF(t, buf.Bytes())
		if m["_aws"].(map[string]any)["Timestamp"] != float64(at.UnixMilli()) {
			t.Errorf("Timestamp = %v", m["_aws"])
		}
		dims, _ := json.Marshal(dir["Dimensions"])
		if string(dims) != c.dims {
			t.Errorf("per-tenant %v: dimensions %s, want %s", c.perTenant, dims, c.dims)
		}
		for _, set := range dir["Dimensions"].([]any) {
			for _, d := range set.([]any) {
				if _, ok := m[d.(string)].(string); !ok {
					t.Errorf("dimension %v is not a string at the root", d)
				}
			}
		}
		names := declared(t, m, dir)
		if want := []string{"Events", "Failed", "LagSeconds"}; !slices.Equal(names, want) {
			t.Errorf("declared metrics %v, want %v", names, want)
		}
		if got, want := len(names)*len(dir["Dimensions"].([]any)), MetricsPerInvocation(true, c.perTenant); got != want {
			t.Errorf("%d metric values, MetricsPerInvocation says %d", got, want)
		}
		// Every count stays in the line, declared or not, for Logs Insights;
		// tenant and stream are at the root whether or not they are
		// dimensions (Contributor Insights keys on them).
		for k, want := range map[string]any{"Events": 7.0, "Failed": 1.0, "Pages": 2.0, "Errors": 3.0, "Errors_API_HTTP_429": 2.0,
			"Errors_DELIVERY_FAILED": 1.0, "Backlog": 1.0, "LagSeconds": 12.5, "duplicates": 1.0, "locked": false,
			"duration_ms": 900.0, "paced_ms": 1200.0, "tenant": "acme", "stream": "alpha", "vendor": "testvendor", "stop": "error"} {
			if m[k] != want {
				t.Errorf("%s = %v, want %v", k, m[k], want)
			}
		}
		if codes, _ := json.Marshal(m["errors"]); string(codes) != `["API_HTTP_429","DELIVERY_FAILED","API_HTTP_429"]` {
			t.Errorf("errors = %s", codes)
		}
	}

	// A successful run without delivered events: Failed 0, no lag.
	var buf bytes.Buffer
	if err := writeMetrics(&buf, "WazuhPull", at, &Output{Vendor: "v", Tenant: "t", Stream: "s", Success: true, Errors: []string{}}, metricsOptions{validStream: true}); err != nil {
		t.Fatal(err)
	}
	m, dir := decodeEMF(t, buf.Bytes())
	if names := declared(t, m, dir); len(names) != MetricsPerInvocation(false, false) || m["Failed"] != 0.0 || m["LagSeconds"] != nil || m["errors"] != nil {
		t.Errorf("idle run line = %s", buf.String())
	}

	// Without a trusted stream only the vendor dimension is used, and the
	// untrusted tenant and stream stay out of the line.
	buf.Reset()
	if err := writeMetrics(&buf, "WazuhPull", at, &Output{Vendor: "testvendor", Tenant: "x", Stream: "../x", Errors: []string{"CONFIG_INVALID"}}, metricsOptions{perTenant: true}); err != nil {
		t.Fatal(err)
	}
	m, dir = decodeEMF(t, buf.Bytes())
	dims, _ := json.Marshal(dir["Dimensions"])
	if string(dims) != `[["vendor"]]` || m["stream"] != nil || m["tenant"] != nil || m["LagSeconds"] != nil || m["Failed"] != 1.0 || m["Errors_CONFIG_INVALID"] != 1.0 {
		t.Errorf("refused invocation metrics = %s", buf.String())
	}
}

func decodeEMF(t *testing.T, line []byte) (map[string]any, map[string]any) {
	t.Helper()
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("not one line: %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	return m, m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
}

// declared returns the declared metric names, checking each has a number
// at the root.
func declared(t *testing.T, m, dir map[string]any) []string {
	t.Helper()
	var names []string
	for _, md := range dir["Metrics"].([]any) {
		name := md.(map[string]any)["Name"].(string)
		names = append(names, name)
		if _, ok := m[name].(float64); !ok {
			t.Errorf("metric %s has no numeric value at the root", name)
		}
	}
	if len(names) > 100 {
		t.Errorf("%d metrics; EMF allows 100 per directive", len(names))
	}
	slices.Sort(names)
	return names
}

type blockingSink struct {
	release chan struct{}
	closed  bool
}

func (b *blockingSink) Overhead() int { return 0 }
func (b *blockingSink) Write(ctx context.Context, _ []byte) error {
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (b *blockingSink) Confirm(context.Context) error { return nil }
func (b *blockingSink) Close() error                  { b.closed = true; return nil }

func TestGuardedSinkWaitsForTheWriterAndClosesOnce(t *testing.T) {
	raw := &blockingSink{release: make(chan struct{})}
	g := newGuardedSink(raw)
	done := make(chan error)
	go func() { done <- g.Write(context.Background(), []byte("x\n")) }()
	time.Sleep(20 * time.Millisecond)
	if g.closeWithin(20 * time.Millisecond) {
		t.Fatal("closed while a Write was in progress")
	}
	close(raw.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !g.closeWithin(time.Second) || !raw.closed {
		t.Fatal("not closed once the Write returned")
	}
	if err := g.Write(context.Background(), []byte("y\n")); !errors.Is(err, errSinkClosed) {
		t.Errorf("Write after close = %v", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
