package wazuhlab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Version is the Wazuh version the project's rules are tested against.
const Version = "4.14.7"

// EnvLab names the environment variable that points at an engine: a lab
// root or an installed Wazuh home.
const EnvLab = "WAZUH_LAB"

// Daemon names one of the three Wazuh daemons a Lab runs.
type Daemon string

// The daemons, in start order.
const (
	Analysisd Daemon = "wazuh-analysisd"
	Remoted   Daemon = "wazuh-remoted"
	Modulesd  Daemon = "wazuh-modulesd"
)

// Daemons lists every daemon in start order.
func Daemons() []Daemon { return []Daemon{Analysisd, Remoted, Modulesd} }

// Install is a located engine: a Wazuh home whose binaries, default
// ruleset, lists and internal options a Lab copies.
type Install struct {
	// Home is the Wazuh home (bin/, ruleset/, etc/).
	Home string
	// From says how it was found, for messages.
	From string
}

// ErrNotFound is wrapped by Locate's error when no engine exists.
var ErrNotFound = errors.New("wazuhlab: no Wazuh engine found")

// DefaultCache is where `make engine` builds the lab:
// ${XDG_CACHE_HOME:-$HOME/.cache}/wazuh-pull/wazuh-lab-<Version>.
func DefaultCache(getenv func(string) string) string {
	base := getenv("XDG_CACHE_HOME")
	if base == "" {
		home := getenv("HOME")
		if home == "" {
			home = "/root"
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "wazuh-pull", "wazuh-lab-"+Version)
}

// HowToGet is the one-line advice given whenever the engine is missing.
const HowToGet = "run `make engine` (builds Wazuh " + Version + " from ../shared/wazuh-engine into the cache once, a few minutes), " +
	"or set " + EnvLab + " to a lab built by shared/wazuh-engine/build.sh or to an installed Wazuh manager home such as /var/ossec"

// Locate finds the engine: $WAZUH_LAB if set (a lab root, or a Wazuh home),
// else the default cache. getenv is normally os.Getenv.
func Locate(getenv func(string) string) (Install, error) {
	if dir := getenv(EnvLab); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return Install{}, fmt.Errorf("%w: %s=%s: %v", ErrNotFound, EnvLab, dir, err)
		}
		errLab := checkHome(filepath.Join(abs, "wazuh"))
		if errLab == nil {
			return Install{Home: filepath.Join(abs, "wazuh"), From: EnvLab + "=" + dir}, nil
		}
		errHome := checkHome(abs)
		if errHome == nil {
			return Install{Home: abs, From: EnvLab + "=" + dir}, nil
		}
		return Install{}, fmt.Errorf("%w: %s=%s is neither a lab root (%v) nor a Wazuh home (%v); %s", ErrNotFound, EnvLab, dir, errLab, errHome, HowToGet)
	}
	cache := DefaultCache(getenv)
	home := filepath.Join(cache, "wazuh")
	if err := checkHome(home); err != nil {
		return Install{}, fmt.Errorf("%w at %s (%v): %s", ErrNotFound, cache, err, HowToGet)
	}
	return Install{Home: home, From: "cache " + cache}, nil
}

// checkHome verifies that home has what a Lab copies.
func checkHome(home string) error {
	for _, d := range Daemons() {
		p := filepath.Join(home, "bin", string(d))
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("missing %s: %w", p, err)
		}
		if fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not executable", p)
		}
	}
	for _, p := range []string{"ruleset/decoders", "ruleset/rules", "etc/internal_options.conf"} {
		if _, err := os.Stat(filepath.Join(home, p)); err != nil {
			return fmt.Errorf("missing %s: %w", filepath.Join(home, p), err)
		}
	}
	return nil
}
