package wodle

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// DefaultMaxEPS is wazuh_modules.max_eps when no internal options file
// sets it (Wazuh's own default).
const DefaultMaxEPS = 100

// MaxEPSLimit is the largest max_eps modulesd accepts; it refuses to start
// with a larger one.
const MaxEPSLimit = 1000

// internalOptionFiles are read in this order, as modulesd does: the local
// file overrides the packaged one, and the first file that sets the
// option decides.
var internalOptionFiles = []string{"etc/local_internal_options.conf", "etc/internal_options.conf"}

// Rate is modulesd's forwarding rate and where it was found.
type Rate struct {
	MaxEPS int
	// From is the file that set it, or "default" with the reason.
	From string
}

// ReadMaxEPS reads wazuh_modules.max_eps below the Wazuh homes given, in
// order (the first home holding either file is used). When no file sets
// it, or its value is one modulesd would refuse, it is DefaultMaxEPS.
func ReadMaxEPS(homes ...string) Rate {
	for _, home := range homes {
		if home == "" {
			continue
		}
		found := false
		for _, name := range internalOptionFiles {
			path := filepath.Join(home, name)
			b, err := os.ReadFile(path)
			if err != nil {
				continue
			}
			found = true
			v, ok := InternalOption(b, "wazuh_modules", "max_eps")
			if !ok {
				continue
			}
			n, err := ParseMaxEPS(v)
			if err != nil {
				return Rate{MaxEPS: DefaultMaxEPS, From: fmt.Sprintf("default (%s: %v)", path, err)}
			}
			return Rate{MaxEPS: n, From: path}
		}
		if found {
			return Rate{MaxEPS: DefaultMaxEPS, From: "default (not set in " + filepath.Join(home, "etc") + ")"}
		}
	}
	return Rate{MaxEPS: DefaultMaxEPS, From: "default (no internal options file found)"}
}

// ParseMaxEPS checks a max_eps value as modulesd does: digits only, 1 to
// MaxEPSLimit.
func ParseMaxEPS(v string) (int, error) {
	if v == "" || len(v) > 10 {
		return 0, fmt.Errorf("max_eps %q is not a number from 1 to %d", v, MaxEPSLimit)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("max_eps %q is not a number from 1 to %d", v, MaxEPSLimit)
		}
	}
	n, _ := strconv.Atoi(v)
	if n < 1 || n > MaxEPSLimit {
		return 0, fmt.Errorf("max_eps %q is not a number from 1 to %d", v, MaxEPSLimit)
	}
	return n, nil
}

// internalLine is the longest line Wazuh reads from an internal options
// file at once; a longer one is read in pieces, each taken as a line.
const internalLine = 1023

// InternalOption finds high.low in an internal options file the way Wazuh
// reads it: lines starting with '#', a space or nothing are skipped; the
// name is split at the first '.'; spaces before '=' and after it are
// ignored; the value ends at the line's end (a trailing '\r' removed); the
// first line that sets the option wins.
func InternalOption(b []byte, high, low string) (string, bool) {
	for len(b) > 0 {
		n := bytes.IndexByte(b, '\n') + 1
		if n == 0 || n > internalLine {
			n = min(len(b), internalLine)
		}
		line := b[:n]
		b = b[n:]
		if line[0] == '#' || line[0] == ' ' || line[0] == '\n' {
			continue
		}
		name, rest, ok := bytes.Cut(line, []byte("."))
		if !ok || string(name) != high {
			continue
		}
		key, value, ok := bytes.Cut(rest, []byte("="))
		if !ok || string(bytes.TrimRight(key, " ")) != low {
			continue
		}
		value = bytes.TrimLeft(value, " ")
		if i := bytes.LastIndexByte(value, '\n'); i >= 0 {
			value = value[:i]
		}
		if i := bytes.LastIndexByte(value, '\r'); i >= 0 {
			value = value[:i]
		}
		return string(value), true
	}
	return "", false
}

// ParseInterval reads a duration as <interval> is written: a number of
// seconds, or a number followed by s, m, h, d or w. It must be positive.
func ParseInterval(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty interval")
	}
	unit := time.Second
	digits := s
	switch s[len(s)-1] {
	case 's':
		digits = s[:len(s)-1]
	case 'm':
		unit, digits = time.Minute, s[:len(s)-1]
	case 'h':
		unit, digits = time.Hour, s[:len(s)-1]
	case 'd':
		unit, digits = 24*time.Hour, s[:len(s)-1]
	case 'w':
		unit, digits = 7*24*time.Hour, s[:len(s)-1]
	}
	bad := fmt.Errorf("interval %q: want a number of seconds, or a number followed by s, m, h, d or w (as in <interval>)", s)
	if digits == "" || len(digits) > 12 {
		return 0, bad
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, bad
		}
	}
	n, _ := strconv.ParseInt(digits, 10, 64)
	if n <= 0 || n > int64(math.MaxInt64/unit) {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}

// LineOverhead is what modulesd spends on each line besides the pause
// max_eps sets (1/max_eps before each line). Measured on Wazuh 4.14.7 on a
// 2-core machine: 500 lines took 5.55 s at max_eps 100 (1.1 ms per line
// over the 10 ms pause) and 0.77 s at 1000 (0.54 ms over 1 ms) when the
// machine was idle; at a load average of 15 to 17, runs of 1 000 to 1 200
// lines were forwarded at 264 to 475 lines/s at max_eps 1000 (1.1 to
// 2.8 ms over). 2 ms covers all but the busiest moments, and the window
// already leaves the run's whole --max-runtime, which a run seldom uses:
// a run forwarded more slowly only starts the next one late.
const LineOverhead = 2 * time.Millisecond

// RunEvents is how many events one run may print so that modulesd can
// forward them before the wodle's next run is due. modulesd counts
// <interval> from one run's start to the next, so the run itself (at most
// maxRuntime) uses part of it; what is left, but never less than half the
// interval, is the forwarding window, and each line costs 1/maxEPS plus
// LineOverhead:
//
//	events = (interval − maxRuntime) / (1/maxEPS + LineOverhead)
//
// With the defaults (5m, 90 s, max_eps 100): 210 s / 12 ms = 17 500.
func RunEvents(interval, maxRuntime time.Duration, maxEPS int) int64 {
	if maxEPS < 1 {
		maxEPS = DefaultMaxEPS
	}
	window := interval - maxRuntime
	if window < interval/2 {
		window = interval / 2
	}
	perLine := time.Second/time.Duration(maxEPS) + LineOverhead
	return max(int64(window/perLine), 1)
}

// ForwardTime is how long modulesd takes, at most, to forward n lines at
// maxEPS (the inverse of RunEvents' cost per line).
func ForwardTime(n int64, maxEPS int) time.Duration {
	if maxEPS < 1 {
		maxEPS = DefaultMaxEPS
	}
	return time.Duration(n) * (time.Second/time.Duration(maxEPS) + LineOverhead)
}
