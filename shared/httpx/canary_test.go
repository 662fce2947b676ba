package httpx

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
)

// echoServer answers status with a body that echoes the request's
// Authorization header, and the credential inside it, in every form a
// server or proxy may use: as is, JSON-encoded (Go's and PHP's "\/"),
// URL-encoded, base64-encoded, and cut short.
func echoServer(status int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		_, cred, _ := strings.Cut(h, " ")
		j, _ := json.Marshal(map[string]string{"header": h, "cred": cred})
		forms := []string{
			h, string(j), strings.ReplaceAll(string(j), "/", `\/`), url.QueryEscape(cred),
			base64.StdEncoding.EncodeToString([]byte(cred)), "invalid credential " + cred[:len(cred)/2] + "…",
		}
		if user, pass, ok := r.BasicAuth(); ok {
			forms = append(forms, "user="+user+" password="+pass, "password="+pass[:len(pass)-3])
		}
		w.WriteHeader(status)
		w.Write([]byte(strings.Join(forms, " | ")))
	}))
}

// TestCanaryNeverLeaks: whatever a server echoes, no form of the bearer
// token or of a Basic pair reaches an error or a log line, including
// credentials nobody registered beforehand (the client registers what the
// request carries).
func TestCanaryNeverLeaks(t *testing.T) {
	token := "eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOlsiZXZlbnRzIl19.CANARY/tok+en=="
	principal, secret := "svc-principal-9c2e", "CANARY-pp/secret+value"
	basic := base64.StdEncoding.EncodeToString([]byte(principal + ":" + secret))
	cases := map[string]struct {
		header string
		leaks  []string
	}{
		"bearer": {"Bearer " + token, []string{"CANARY", token[:redact.PrefixLen], url.QueryEscape(token)[:redact.PrefixLen], base64.StdEncoding.EncodeToString([]byte(token))[:redact.PrefixLen]}},
		"basic":  {"Basic " + basic, []string{"CANARY", basic[:redact.PrefixLen], "pp/secret", `pp\/secret`}},
	}
	for name, c := range cases {
		for _, status := range []int{400, 500} {
			t.Run(name, func(t *testing.T) {
				srv := echoServer(status)
				defer srv.Close()
				var logs strings.Builder
				red := redact.New() // nothing registered: the client must do it
				cl := client(t, Config{Redactor: red, MaxAttempts: 2, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
				_, err := cl.Do(context.Background(), &Request{Method: "POST", URL: srv.URL, Body: []byte(`{}`), Header: http.Header{"Authorization": {c.header}}})
				if err == nil || !strings.Contains(err.Error(), redact.Mask) {
					t.Fatalf("the echo was not seen, so this test proves nothing: %v", err)
				}
				for _, text := range []string{err.Error(), logs.String()} {
					for _, leak := range c.leaks {
						if strings.Contains(text, leak) {
							t.Fatalf("%q leaked:\n%s", leak, text)
						}
					}
				}
			})
		}
	}
}

// TestCredentialHeadersAreRegistered: vendor-specific credential headers
// are masked too (Cortex XDR sends its key in Authorization without a
// scheme and an id in x-xdr-auth-id).
func TestCredentialHeadersAreRegistered(t *testing.T) {
	red := redact.New()
	cl := client(t, Config{Redactor: red})
	cl.registerCredentials(http.Header{
		"Authorization": {"CANARYxdrApiKeyValue0123"}, "X-Xdr-Auth-Id": {"CANARY-id-77"}, "X-Api-Key": {"CANARY-apikey-42"},
		"Accept": {"application/json"}, "Content-Type": {"application/json"},
	})
	out := red.String("CANARYxdrApiKeyValue0123 CANARY-id-77 CANARY-apikey-42 application/json")
	if strings.Contains(out, "CANARY") || !strings.Contains(out, "application/json") {
		t.Fatalf("got %q", out)
	}
	if cl.Redactor() != red {
		t.Fatal("Redactor() must return the client's redactor")
	}
}
