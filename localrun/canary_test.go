package main

import (
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// TestCanarySecretNeverLeaks configures one canary secret in every
// credential source at once (environment, secrets file, systemd credentials
// directory, OP_TOKENS_FILE, proxy URL userinfo) and makes the simulator
// echo the request headers back in error bodies. At every --debug level,
// with and without a log file, the canary must not appear in stdout,
// stderr, the log file or the state file, in any encoding.
func TestCanarySecretNeverLeaks(t *testing.T) {
	canary := "CANARYxSECRETx" + strconv.FormatInt(time.Now().UnixNano(), 36)
	forms := []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)), url.QueryEscape("u:" + canary)}
	for _, mode := range []string{"env", "secrets-file", "systemd", "tokens-file"} {
		for debug := 0; debug <= 3; debug++ {
			for _, logToFile := range []bool{true, false} {
				name := mode + "/debug" + strconv.Itoa(debug) + map[bool]string{true: "/logfile", false: "/stderr"}[logToFile]
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					h := newHarness(t, onepasswordtest.Options{})
					token := "eyJhbGciOiJFUzI1NiJ9.eyJhdWQiOlsiY29tLjFwYXNzd29yZC5zdHJlYW1pbmdzZXJ2aWNlIl19." + canary
					h.sim.AddAccount("canary", onepasswordtest.Account{Seed: 3, Token: token})
					h.sim.Generate("canary", onepasswordtest.StreamSignInAttempts, 50, time.Now().Add(-time.Hour), time.Second)
					h.sim.Inject(onepasswordtest.Fault{Kind: onepasswordtest.FaultEchoHeaders, Count: 4})
					// The canary sits in every source; the mode only decides
					// which one is meant to win.
					creds := filepath.Join(h.dir, "creds")
					os.Mkdir(creds, 0o700)
					os.WriteFile(filepath.Join(creds, "op_bearer_token"), []byte(token+"\n"), 0o600)
					os.WriteFile(filepath.Join(h.dir, ".secrets"), []byte("OP_BEARER_TOKEN=\""+token+"\"\n"), 0o640)
					os.WriteFile(filepath.Join(h.dir, "tenants.json"), []byte(`{"tenants":[{"name":"t1","bearer_token":"`+token+`"}]}`), 0o640)
					h.env["OP_BEARER_TOKEN"] = token
					h.env["HTTPS_PROXY"] = "http://user:" + canary + "@127.0.0.1:9"
					h.env["HTTP_PROXY"] = "http://user:" + canary + "@127.0.0.1:9"
					switch mode {
					case "secrets-file":
						h.env["OP_SECRETS_FILE"] = filepath.Join(h.dir, ".secrets")
					case "systemd":
						h.env["OP_SECRETS_FILE"] = filepath.Join(h.dir, ".secrets")
						h.env["CREDENTIALS_DIRECTORY"] = creds
					case "tokens-file":
						h.env["OP_TOKENS_FILE"] = filepath.Join(h.dir, "tenants.json")
					}
					logFile := filepath.Join(h.dir, "run.log")
					args := []string{"--debug", strconv.Itoa(debug), "--http-attempts", "2"}
					if logToFile {
						args = append(args, "--log-file", logFile)
					}
					var out []byte
					for run := 0; run < 2; run++ {
						res := h.run(args...)
						if run == 1 && res.exit != 0 {
							t.Fatalf("second run exit %d", res.exit)
						}
						out = append(out, joinLines(res.lines)...)
						out = append(out, res.stderr...)
					}
					if !strings.Contains(string(out), "[REDACTED]") {
						t.Fatal("the echoed headers were not seen, so this test proves nothing")
					}
					logb, _ := os.ReadFile(logFile)
					stateb, _ := os.ReadFile(h.env["OP_STATE_FILE"])
					for where, b := range map[string][]byte{"stdout+stderr": out, "log file": logb, "state file": stateb} {
						for _, f := range forms {
							if strings.Contains(string(b), f) {
								t.Fatalf("canary (%q) found in %s", f, where)
							}
						}
					}
					if debug > 0 && len(logb) == 0 && logToFile {
						t.Fatal("nothing was logged, so this test proves nothing")
					}
				})
			}
		}
	}
}

// TestCanaryInTheSinkURL: user info in --sink (a token in the user name or
// the password) never reaches stderr or the CONFIG_INVALID event.
func TestCanaryInTheSinkURL(t *testing.T) {
	canary := "CANARY/x+SINK" + strconv.FormatInt(time.Now().UnixNano(), 36)
	h := newHarness(t, onepasswordtest.Options{})
	for _, sink := range []string{
		"tls://user:" + url.QueryEscape(canary) + "@127.0.0.1:9",
		"tls://" + url.QueryEscape(canary) + "@127.0.0.1:9",
		"https://user:" + url.QueryEscape(canary) + "@127.0.0.1:9",
	} {
		res := h.run("--sink", sink)
		out := string(joinLines(res.lines)) + res.stderr
		if res.exit == exitOK || !strings.Contains(out, "error_code") {
			t.Fatalf("%s: exit %d, want a reported failure: %s", sink, res.exit, out)
		}
		for _, f := range []string{canary, url.QueryEscape(canary), url.PathEscape(canary)} {
			if strings.Contains(out, f) {
				t.Fatalf("%s: canary (%q) printed: %s", sink, f, out)
			}
		}
	}
}
