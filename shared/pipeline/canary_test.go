package pipeline

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// leakySource fails with an error quoting a credential in several forms,
// as a vendor error body passed through a source would.
type leakySource struct{ msg string }

func (leakySource) Start(context.Context, state.Record) error { return nil }
func (s leakySource) Fetch(context.Context) (*Page, error) {
	return nil, &Error{Code: CodeHTTP401, Message: "Authentication failed", Detail: s.msg, Err: fmt.Errorf("vendor said: %s", s.msg)}
}

// TestCanaryNotInErrorEvents: error events and logs carry no form of a
// registered secret, also when the source's error quotes it escaped, cut
// short or as a Basic pair.
func TestCanaryNotInErrorEvents(t *testing.T) {
	principal, secret := "svc-principal-31", "CANARY/pipeline+secret"
	basic := base64.StdEncoding.EncodeToString([]byte(principal + ":" + secret))
	red := redact.New()
	red.AddPair(principal, secret)
	msg := `{"echo":"` + strings.ReplaceAll(secret, "/", `\/`) + `","auth":"Basic ` + basic + `","cut":"` + secret[:14] + `"}`
	sink := &memSink{}
	var logs strings.Builder
	r, err := New(Config{Envelope: event.Envelope{Integration: "proofpoint", Namespace: "pp"}, RunID: "run-1", Sink: sink, Redactor: red,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Run(context.Background(), []Stream{{Key: key("siem"), Name: "siem", Source: leakySource{msg}}})
	if res[0].Success || !strings.Contains(sink.confirmed.String(), redact.Mask) {
		t.Fatalf("no redacted error event, so this test proves nothing: %+v\n%s", res[0], sink.confirmed.String())
	}
	for where, text := range map[string]string{"error event": sink.confirmed.String(), "log": logs.String()} {
		for _, leak := range []string{"CANARY", basic[:redact.PrefixLen], "pipeline+secret", `pipeline\/`} {
			if strings.Contains(text, leak) {
				t.Fatalf("%q in the %s:\n%s", leak, where, text)
			}
		}
	}
}
