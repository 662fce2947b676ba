package lambdarun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestEMFShape checks the rules CloudWatch applies to an EMF line: every
// declared metric is a number at the root, every dimension a string at
// the root, and the line is one JSON object ending in a newline.
func TestEMFShape(t *testing.T) {
	lag := 12.5
	o := &Output{Vendor: "testvendor", Tenant: "acme", Stream: "alpha", RunID: "r1", Stop: "error",
		Events: 7, Pages: 2, Duplicates: 1, Backlog: true, LagSeconds: &lag, DurationMs: 900,
		Errors: []string{"API_HTTP_429", "DELIVERY_FAILED", "API_HTTP_429"}}
	var buf bytes.Buffer
	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	if err := writeMetrics(&buf, "WazuhPull", at, o, true); err != nil {
		t.Fatal(err)
	}
	line := buf.Bytes()
	if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
		t.Fatalf("not one line: %q", line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	aws := m["_aws"].(map[string]any)
	if aws["Timestamp"] != float64(at.UnixMilli()) {
		t.Errorf("Timestamp = %v", aws["Timestamp"])
	}
	dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	for _, set := range dir["Dimensions"].([]any) {
		for _, d := range set.([]any) {
			if _, ok := m[d.(string)].(string); !ok {
				t.Errorf("dimension %v is not a string at the root", d)
			}
		}
	}
	names := map[string]bool{}
	for _, md := range dir["Metrics"].([]any) {
		name := md.(map[string]any)["Name"].(string)
		names[name] = true
		if _, ok := m[name].(float64); !ok {
			t.Errorf("metric %s has no numeric value at the root", name)
		}
	}
	for k, want := range map[string]float64{"Events": 7, "Pages": 2, "Errors": 3, "Errors_API_HTTP_429": 2,
		"Errors_DELIVERY_FAILED": 1, "Backlog": 1, "LagSeconds": 12.5} {
		if m[k] != want || !names[k] {
			t.Errorf("%s = %v (declared %v), want %v", k, m[k], names[k], want)
		}
	}
	// Plain fields, not metrics: they would cost per tenant and stream.
	for k, want := range map[string]any{"duplicates": 1.0, "locked": false, "duration_ms": 900.0} {
		if m[k] != want || names[k] {
			t.Errorf("%s = %v (declared as a metric: %v), want the plain field %v", k, m[k], names[k], want)
		}
	}
	if len(names) > 100 {
		t.Errorf("%d metrics; EMF allows 100 per directive", len(names))
	}

	// Without a trusted stream only the vendor dimension is used.
	buf.Reset()
	if err := writeMetrics(&buf, "WazuhPull", at, &Output{Vendor: "testvendor", Stream: "../x", Errors: []string{"CONFIG_INVALID"}}, false); err != nil {
		t.Fatal(err)
	}
	m = nil
	json.Unmarshal(buf.Bytes(), &m)
	dims, _ := json.Marshal(m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"])
	if string(dims) != `[["vendor"]]` || m["stream"] != nil || m["LagSeconds"] != nil {
		t.Errorf("refused invocation metrics = %s", buf.String())
	}
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
