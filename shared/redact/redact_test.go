package redact

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedactsEveryForm(t *testing.T) {
	r := New()
	r.Add("s3cr3t/with+chars")
	r.AddBasic("principal", "pw-123456")
	r.Add("abc") // too short to mask without mangling text
	in := "a s3cr3t/with+chars b " + url.QueryEscape("s3cr3t/with+chars") + " c cHJpbmNpcGFsOnB3LTEyMzQ1Ng== d abc"
	out := r.String(in)
	for _, leak := range []string{"s3cr3t", "cHJpbmNpcGFs", "pw-123456"} {
		if strings.Contains(out, leak) {
			t.Fatalf("%q leaked in %q", leak, out)
		}
	}
	if !strings.HasSuffix(out, "abc") {
		t.Fatalf("short value masked: %q", out)
	}
}

func TestLongestSecretMaskedWhole(t *testing.T) {
	r := New()
	r.Add("token", "token-and-more")
	if got := r.String("x token-and-more y"); got != "x "+Mask+" y" {
		t.Fatalf("got %q", got)
	}
}

func TestErrorKeepsChain(t *testing.T) {
	r := New()
	r.Add("hunter22")
	base := errors.New("bad hunter22")
	err := r.Error(base)
	if strings.Contains(err.Error(), "hunter22") || !errors.Is(err, base) {
		t.Fatalf("err %v", err)
	}
	var nilR *Redactor
	if nilR.String("x") != "x" {
		t.Fatal("nil redactor must pass text through")
	}
}

// canaryForms lists a secret the ways it comes back in vendor answers and
// logs, each of which must be masked.
func canaryForms(secret string) map[string]string {
	goJSON, _ := json.Marshal(secret)
	inner := string(goJSON[1 : len(goJSON)-1])
	return map[string]string{
		"raw":                secret,
		"json (Go)":          inner,
		"json \\/ (PHP)":     strings.ReplaceAll(inner, "/", `\/`),
		"json ascii (Py)":    jsonEscape(secret, false, true),
		"query-escaped":      url.QueryEscape(secret),
		"path-escaped":       url.PathEscape(secret),
		"base64":             base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64 in json \\/": strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte(secret)), "/", `\/`),
	}
}

// TestCanaryEveryForm: a registered secret is masked in every form it can
// take, whole and cut short to PrefixLen bytes or more, and nothing of it
// that long survives.
func TestCanaryEveryForm(t *testing.T) {
	const canary = `CANARY/tok+en"é<&>~Z9x\q`
	r := New()
	r.Add(canary)
	for name, form := range canaryForms(canary) {
		for cut := PrefixLen; cut <= len(form); cut++ {
			echo := `{"error":"invalid token ` + form[:cut] + `| see docs"}`
			out := r.String(echo)
			if strings.Contains(out, form[:PrefixLen]) || !strings.Contains(out, Mask) {
				t.Fatalf("%s cut to %d: %q", name, cut, out)
			}
			if !strings.HasPrefix(out, `{"error":"invalid token `) || !strings.HasSuffix(out, `| see docs"}`) {
				t.Fatalf("%s cut to %d: text around the secret mangled: %q", name, cut, out)
			}
		}
	}
	// Shorter starts are left alone: too likely by chance.
	if out := r.String("CANARY/tok"); out != "CANARY/tok" {
		t.Fatalf("a %d-byte start was masked: %q", len("CANARY/tok"), out)
	}
}

// TestCanaryPairs: an HTTP Basic pair is masked as the header carries it
// (base64 of principal:secret, in every alphabet and form), decoded, and
// each part alone.
func TestCanaryPairs(t *testing.T) {
	principal, secret := "svc-principal-4d1f", "CANARY-s3cr3t/with+chars"
	r := New()
	r.AddPair(principal, secret)
	pair := principal + ":" + secret
	var texts []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b := enc.EncodeToString([]byte(pair))
		texts = append(texts, "Authorization: Basic "+b, `{"auth":"`+strings.ReplaceAll(b, "/", `\/`)+`"}`, "echo "+url.QueryEscape(b), "cut "+b[:PrefixLen+3])
	}
	texts = append(texts, "userinfo https://"+url.UserPassword(principal, secret).String()+"@proxy", pair, secret)
	for _, text := range texts {
		out := r.String(text)
		for _, leak := range []string{secret[:PrefixLen], "s3cr3t", base64.StdEncoding.EncodeToString([]byte(pair))[:PrefixLen], base64.URLEncoding.EncodeToString([]byte(pair))[:PrefixLen]} {
			if strings.Contains(out, leak) {
				t.Fatalf("%q leaked in %q (from %q)", leak, out, text)
			}
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add("CANARY-secret-value-123", "prefix ", " suffix", uint8(15))
	f.Add(`s/e"c\r<e>t&ü`, `{"a":"`, `"}`, uint8(200))
	f.Fuzz(func(t *testing.T, secret, before, after string, cut uint8) {
		if len(secret) < PrefixLen || strings.Contains(before+after, secret[:PrefixLen]) {
			return
		}
		r := New()
		r.Add(secret)
		for _, form := range forms(secret) {
			n := min(len(form), PrefixLen+int(cut))
			out := r.String(before + form[:n] + after)
			if strings.Contains(out, form[:PrefixLen]) {
				t.Fatalf("form %q cut to %d survives in %q", form, n, out)
			}
			if !strings.HasPrefix(out, before[:max(0, len(before)-len(form))]) && len(before) > len(form) {
				t.Fatalf("text before the secret mangled: %q", out)
			}
		}
	})
}
