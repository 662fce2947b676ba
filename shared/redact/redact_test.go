package redact

import (
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
