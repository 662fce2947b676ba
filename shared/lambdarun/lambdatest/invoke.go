package lambdatest

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
)

// Payload is the scheduler's input for one stream of one tenant.
func Payload(stream, tenant string) []byte {
	return []byte(fmt.Sprintf(`{"stream":%q,"tenant":%q}`, stream, tenant))
}

// Invoke runs one invocation and decodes its summary; a handler error
// fails the test.
func Invoke(t *testing.T, r *rietest.RIE, payload []byte) lambdarun.Output {
	t.Helper()
	res, err := r.Invoke(Context(t), payload)
	if err != nil {
		t.Fatal(err)
	}
	var out lambdarun.Output
	if err := res.Decode(&out); err != nil {
		t.Fatalf("%v\nemulator output:\n%s", err, Tail(r.Log(), 6000))
	}
	return out
}

// InvokeAll invokes every emulator at once (each is one execution
// environment) with payload and returns their summaries, in order. A
// failed or undecodable invocation fails the test.
func InvokeAll(t *testing.T, rs []*rietest.RIE, payload []byte) []lambdarun.Output {
	t.Helper()
	outs := make([]lambdarun.Output, len(rs))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := r.Invoke(Context(t), payload)
			if err != nil {
				t.Error(err)
				return
			}
			if err := res.Decode(&outs[i]); err != nil {
				t.Errorf("runner %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return outs
}

// Tail is the last n bytes of s, for failure messages.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// NoSecrets fails the test if any of secrets shows up in text (emulator
// output, delivered lines, state); what names the text.
func NoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%.12s…)", what, s)
		}
	}
}

// DecodeLine decodes a line as the relay forwards it, "<PRI>{json}":
// into v (unless nil), and into the map it returns. Another shape fails
// the test.
func DecodeLine(t testing.TB, line string, v any) map[string]any {
	t.Helper()
	i := strings.IndexByte(line, '{')
	if !strings.HasPrefix(line, "<") || i < 0 {
		t.Fatalf("line %q is not <PRI>{json}", line)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line[i:]), &m); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(line[i:]), v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
	}
	return m
}
