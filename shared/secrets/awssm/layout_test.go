package awssm

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
)

func TestLayouts(t *testing.T) {
	for _, c := range []struct {
		layout       string
		id, member   string
		prefix       string
		wantParseErr bool
	}{
		{"", "wazuh-pull/1password/acme", "", "", false},
		{"tenant-vendor", "prod/1password/acme", "", "prod/", false},
		{"tenant", "wazuh-pull/tenants/acme", "1password", "", false},
		{"vendor", "prod/x/1password", "acme", "prod/x", false},
		{"per-tenant", "wazuh-pull/1password/acme", "", "", true},
	} {
		l, err := ParseLayout(c.layout)
		if (err != nil) != c.wantParseErr {
			t.Errorf("ParseLayout(%q) error %v", c.layout, err)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "tenant-vendor, tenant or vendor") {
				t.Errorf("error %q does not list the layouts", err)
			}
			continue
		}
		if id, member := l.Locate(c.prefix, "1password", "acme"); id != c.id || member != c.member {
			t.Errorf("%s: Locate = %q, %q; want %q, %q", c.layout, id, member, c.id, c.member)
		}
	}
	// The default layout is the one SecretID names.
	if id, _ := LayoutTenantVendor.Locate("p", "proofpoint", "acme"); id != SecretID("p", "proofpoint", "acme") {
		t.Errorf("default layout %q disagrees with SecretID", id)
	}
}

// TestBundleMembersShareOneRead reads two tenants from one per-vendor
// secret in moto: one GetSecretValue serves both, an Invalidate through
// either member re-reads for both, and every member's secret values are
// masked, including those of members this process never asked for.
func TestBundleMembersShareOneRead(t *testing.T) {
	sm, calls := client(t)
	id := createSecret(t, sm, `{"acme":{"bearer_token":"tok-ACME-1","base_url":"https://events.1password.eu"},`+
		`"globex":{"bearer_token":"tok-GLOBEX-1"},"initech":{"bearer_token":"tok-INITECH-1"}}`)
	red := redact.New()
	src := New(sm, id, Options{Bundle: true, Redactor: red, Public: []string{"base_url"}})
	acme, globex := src.Member("acme"), src.Member("globex")

	c, err := acme.Get(ctx(t))
	if err != nil || c["bearer_token"] != "tok-ACME-1" || c["base_url"] != "https://events.1password.eu" {
		t.Fatalf("acme: %v (%d fields)", err, len(c))
	}
	c, err = globex.Get(ctx(t))
	if err != nil || c["bearer_token"] != "tok-GLOBEX-1" || len(c) != 1 {
		t.Fatalf("globex: %v (%d fields)", err, len(c))
	}
	if n := calls.n.Load(); n != 1 {
		t.Fatalf("%d GetSecretValue calls for two members, want 1", n)
	}
	if got := red.String("tok-INITECH-1 https://events.1password.eu"); got != redact.Mask+" https://events.1password.eu" {
		t.Errorf("redaction of the bundle: %q", got)
	}
	if acme.SecretID() != id || acme.Name() != "acme" {
		t.Errorf("member identity %s %s", acme.SecretID(), acme.Name())
	}

	// Rotating one tenant is a new version of the whole secret.
	if _, err := sm.PutSecretValue(ctx(t), &secretsmanager.PutSecretValueInput{SecretId: aws.String(id),
		SecretString: aws.String(`{"acme":{"bearer_token":"tok-ACME-2"},"globex":{"bearer_token":"tok-GLOBEX-1"}}`)}); err != nil {
		t.Fatal(err)
	}
	globex.Invalidate()
	if c, err = acme.Get(ctx(t)); err != nil || c["bearer_token"] != "tok-ACME-2" {
		t.Fatalf("after invalidation: %v", err)
	}
	if n := calls.n.Load(); n != 2 {
		t.Fatalf("%d calls after one invalidation, want 2", n)
	}

	// A tenant missing from the bundle: not found, naming the member.
	_, err = src.Member("hooli").Get(ctx(t))
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `no member "hooli"`) || !strings.Contains(err.Error(), id) {
		t.Errorf("missing member: %v", err)
	}
	// A bundle has no fields of its own, and a plain secret no members.
	if _, err := src.Get(ctx(t)); !errors.Is(err, ErrMalformed) {
		t.Errorf("Get on a bundle: %v", err)
	}
	if _, err := New(sm, id, Options{}).Member("acme").Get(ctx(t)); err == nil {
		t.Error("Member of a plain secret: no error")
	}
}

func TestMalformedBundleIsNotEchoed(t *testing.T) {
	sm, _ := client(t)
	const canary = "CANARY-b7-do-not-print"
	for _, c := range []struct{ value, want string }{
		{`{"acme":"` + canary + `"}`, `member "acme" is a JSON string`},
		{`{"acme":{"bearer_token":42},"globex":["` + canary + `"]}`, `member "acme": fields must be strings: "bearer_token" (number); member "globex" is a JSON array`},
		{`{"acme":{"bearer_token":"` + canary, `invalid JSON`},
		{`null`, `null`},
		{`["` + canary + `"]`, `the JSON is a array`},
	} {
		id := createSecret(t, sm, c.value)
		_, err := New(sm, id, Options{Bundle: true}).Member("acme").Get(ctx(t))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d-byte bundle: err = %v, want ErrMalformed saying %q", len(c.value), err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "CANARY") {
			t.Fatalf("error echoes the secret: %v", err)
		}
	}
}

// FuzzParseBundle: any secret text either parses into members of string
// fields or fails with ErrMalformed, and an error never repeats the text.
func FuzzParseBundle(f *testing.F) {
	for _, s := range []string{`{"a":{"k":"v"}}`, `{"a":{"k":1}}`, `{"a":"x"}`, `null`, `{`, `{"a":{"k":"v","k2":"w"},"b":{}}`, `[]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		members, err := parseBundle("id", text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if len(text) >= 12 && strings.Contains(err.Error(), text) {
				t.Fatalf("error repeats the secret text: %v", err)
			}
			return
		}
		if members == nil {
			t.Fatal("nil members without an error")
		}
	})
}
