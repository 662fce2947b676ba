package cortexxdr

import (
	"regexp"
	"testing"
)

// The host check agrees with the regular expression it replaced.
var hostLabelsRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)+$`)

func FuzzDottedHost(f *testing.F) {
	for _, s := range []string{"acme.xdr.us.paloaltonetworks.com", "a.b", "a", "-a.b", "a-.b", "a..b", ".a.b", "a.b.", "a_b.c", "ä.b", "1.2.3.4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := dottedHost(s), hostLabelsRE.MatchString(s); got != want {
			t.Fatalf("dottedHost(%q) = %v, the expression says %v", s, got, want)
		}
	})
}
