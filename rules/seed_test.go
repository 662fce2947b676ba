//go:build seedrules

// The seed drop-in test needs the seed wodles' rule files, from their
// public repositories (jnthans/wazuh-1password, jnthans/wazuh-cortex-xdr),
// which a machine without access to GitHub cannot fetch: it runs with
// `make seed-test`, not in `make test`.

package rules_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/wazuhlab"
)

// seedLab runs the seed wodles' own rule files instead of ours.
var seedLab = &wazuhlab.Shared{}
var seedOnce sync.Once
var seedErr error

func init() { labs = append(labs, seedLab) }

// seedRulesHint says how to provide the seed rule sets.
const seedRulesHint = "run `make seed-test` (clones jnthans/wazuh-1password and jnthans/wazuh-cortex-xdr into ~/.cache/wazuh-pull/seeds) " +
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
