package rules_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/rules/casegen"
	"github.com/wazuh-pull/wazuh-pull/shared/wazuhlab"
)

// lab is this package's Wazuh engine with our rules: logtest for the
// cases, remoted for the syslog path, modulesd (paced at its maximum,
// 1000 events/s) for the wodle path.
var lab = &wazuhlab.Shared{
	Options: wazuhlab.Options{
		RuleData:        ourRuleFiles(),
		InternalOptions: map[string]string{"wazuh_modules.max_eps": "1000"},
	},
	Daemons: []wazuhlab.Daemon{wazuhlab.Analysisd, wazuhlab.Remoted, wazuhlab.Modulesd},
}

// labs are closed when the package's tests end.
var labs = []*wazuhlab.Shared{lab}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, l := range labs {
		if err := l.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing a lab:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func ourRuleFiles() map[string][]byte {
	out := map[string][]byte{}
	for _, name := range append(rules.RuleFileNames(), rules.DecoderFileNames()...) {
		b, err := rules.Files.ReadFile(name)
		if err != nil {
			panic(err)
		}
		out[name] = b
	}
	return out
}

// engineCtx bounds a test's engine work. Logtest answers in about a
// millisecond and a new session loads the ruleset in about a second; the
// bound only guards against a hung engine on a loaded machine.
func engineCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// verdict is what Wazuh decided for one event.
type verdict struct {
	Decoder string
	RuleID  string
	Level   int
	Groups  []string
}

func (v verdict) String() string {
	return fmt.Sprintf("decoder %s rule %s level %d groups %v", v.Decoder, v.RuleID, v.Level, v.Groups)
}

func (v verdict) equal(o verdict) bool {
	return v.Decoder == o.Decoder && v.RuleID == o.RuleID && v.Level == o.Level && slices.Equal(v.Groups, o.Groups)
}

// verdictOf reads an analysed event. Wazuh moves compliance groups
// (pci_dss_10.2.4 ...) out of rule.groups into their own arrays; they are
// put back with their prefix so that groups compare with the rule file.
func verdictOf(ev wazuhlab.Event) verdict {
	v := verdict{Decoder: ev.Decoder.Name}
	if ev.Rule == nil {
		return v
	}
	v.RuleID, v.Level = ev.Rule.ID, ev.Rule.Level
	v.Groups = append(v.Groups, ev.Rule.Groups...)
	for prefix, vals := range map[string][]string{"pci_dss_": ev.Rule.PCIDSS, "gdpr_": ev.Rule.GDPR, "hipaa_": ev.Rule.HIPAA,
		"nist_800_53_": ev.Rule.NIST, "tsc_": ev.Rule.TSC, "gpg13_": ev.Rule.GPG13} {
		for _, x := range vals {
			v.Groups = append(v.Groups, prefix+x)
		}
	}
	sort.Strings(v.Groups)
	return v
}

func expected(e casegen.Expect) verdict {
	g := append([]string(nil), e.Groups...)
	sort.Strings(g)
	return verdict{Decoder: e.Decoder, RuleID: e.RuleID, Level: e.Level, Groups: g}
}

// vendorCases loads every vendor's case file.
func vendorCases(t *testing.T) map[string]*casegen.File {
	t.Helper()
	out := map[string]*casegen.File{}
	for _, v := range casegen.Vendors() {
		f, err := casegen.ReadFile(casegen.Path(".", v))
		if err != nil {
			t.Fatalf("%v (regenerate with go run ./rules/casegen/gencases)", err)
		}
		out[v.Name] = f
	}
	return out
}

// withHeader prefixes a line with the RFC 3164 header wazuh-pull's syslog
// sink can add (--syslog-header): the pre-decoder takes it off.
func withHeader(line string) string {
	return "Mar  2 12:00:00 collector01 wazuh-pull: " + line
}
