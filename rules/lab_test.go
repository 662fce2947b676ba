package rules_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
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

// seedLab runs the seed wodles' own rule files instead of ours.
var seedLab = &wazuhlab.Shared{}
var seedOnce sync.Once
var seedErr error

func TestMain(m *testing.M) {
	code := m.Run()
	for _, l := range []*wazuhlab.Shared{lab, seedLab} {
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

// seedRulesHint says how to provide the seed rule sets.
const seedRulesHint = "run `make engine` (clones jnthans/wazuh-1password and jnthans/wazuh-cortex-xdr into ~/.cache/wazuh-pull/seeds) " +
	"or set WAZUH_SEED_RULES to those repositories (directories or bare git dirs)"

// seedRuleFiles reads the rules/*.xml of the seed repositories:
// $WAZUH_SEED_RULES (space separated), else the cache's seeds/*.
func seedRuleFiles() (map[string][]byte, error) {
	var repos []string
	if env := os.Getenv("WAZUH_SEED_RULES"); env != "" {
		repos = strings.Fields(env)
	} else {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			base = filepath.Join(os.Getenv("HOME"), ".cache")
		}
		for _, r := range []string{"wazuh-1password.git", "wazuh-cortex-xdr.git"} {
			repos = append(repos, filepath.Join(base, "wazuh-pull", "seeds", r))
		}
	}
	out := map[string][]byte{}
	for _, repo := range repos {
		files, err := readRepoRules(repo)
		if err != nil {
			return nil, fmt.Errorf("seed rules: %s: %v; %s", repo, err, seedRulesHint)
		}
		for name, b := range files {
			out[name] = b
		}
	}
	return out, nil
}

func readRepoRules(repo string) (map[string][]byte, error) {
	out := map[string][]byte{}
	if _, err := os.Stat(filepath.Join(repo, "HEAD")); err == nil {
		if _, err := os.Stat(filepath.Join(repo, "objects")); err == nil {
			ls, err := exec.Command("git", "--git-dir="+repo, "ls-tree", "--name-only", "HEAD", "rules/").Output()
			if err != nil {
				return nil, fmt.Errorf("git ls-tree: %w", err)
			}
			for _, p := range strings.Fields(string(ls)) {
				if !strings.HasSuffix(p, ".xml") {
					continue
				}
				b, err := exec.Command("git", "--git-dir="+repo, "show", "HEAD:"+p).Output()
				if err != nil {
					return nil, fmt.Errorf("git show %s: %w", p, err)
				}
				out[filepath.Base(p)] = b
			}
			return nonEmpty(out)
		}
	}
	paths, err := filepath.Glob(filepath.Join(repo, "rules", "*.xml"))
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out[filepath.Base(p)] = b
	}
	return nonEmpty(out)
}

func nonEmpty(m map[string][]byte) (map[string][]byte, error) {
	if len(m) == 0 {
		return nil, fmt.Errorf("no rules/*.xml")
	}
	return m, nil
}

// getSeedLab starts the lab with the seed rules on first use.
func getSeedLab(t *testing.T) *wazuhlab.Lab {
	t.Helper()
	seedOnce.Do(func() {
		var files map[string][]byte
		files, seedErr = seedRuleFiles()
		seedLab.Options = wazuhlab.Options{RuleData: files}
	})
	if seedErr != nil {
		t.Fatal(seedErr)
	}
	return seedLab.Get(t)
}

// withHeader prefixes a line with the RFC 3164 header wazuh-pull's syslog
// sink can add (--syslog-header): the pre-decoder takes it off.
func withHeader(line string) string {
	return "Mar  2 12:00:00 collector01 wazuh-pull: " + line
}
