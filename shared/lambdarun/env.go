package lambdarun

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Env reads configuration from environment variables and collects every
// problem it finds, so that a misconfigured function reports all of its
// mistakes in one error instead of one per deployment. Each error names
// the variable and what it accepts; a value is quoted only when the
// variable cannot hold a secret.
type Env struct {
	getenv func(string) string
	errs   []error
}

// NewEnv reads variables through getenv (os.Getenv in Lambda).
func NewEnv(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// Lookup returns the trimmed value of name ("" when unset).
func (e *Env) Lookup(name string) string { return strings.TrimSpace(e.getenv(name)) }

// Fail records a configuration error.
func (e *Env) Fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// Err returns every recorded problem, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return &ConfigError{Err: errors.Join(e.errs...)}
}

// String returns the value of name, or def when it is unset.
func (e *Env) String(name, def string) string {
	if v := e.Lookup(name); v != "" {
		return v
	}
	return def
}

// Required returns the value of name and records an error when it is unset.
func (e *Env) Required(name, what string) string {
	v := e.Lookup(name)
	if v == "" {
		e.Fail(name, "is required: %s", what)
	}
	return v
}

// Int returns name as an integer in [min, max], def when unset.
func (e *Env) Int(name string, def, min, max int) int {
	raw := e.Lookup(name)
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < min || n > max {
		e.Fail(name, "%q is not a whole number from %d to %d", raw, min, max)
		return def
	}
	return n
}

// Float returns name as a number in [min, max], def when unset.
func (e *Env) Float(name string, def, min, max float64) float64 {
	raw := e.Lookup(name)
	if raw == "" {
		return def
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) || f < min || f > max {
		e.Fail(name, "%q is not a number from %g to %g", raw, min, max)
		return def
	}
	return f
}

// Bool returns name as true or false, def when unset.
func (e *Env) Bool(name string, def bool) bool {
	raw := e.Lookup(name)
	if raw == "" {
		return def
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		e.Fail(name, "%q is not true or false", raw)
		return def
	}
	return b
}

// Duration returns name as a Go duration ("90s", "2m30s") in [min, max],
// def when unset. A bare number is refused: "10" could mean seconds or
// minutes, and guessing wrong moves deadlines by a factor of 60.
func (e *Env) Duration(name string, def, min, max time.Duration) time.Duration {
	raw := e.Lookup(name)
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < min || d > max {
		e.Fail(name, "%q is not a duration from %v to %v with a unit (e.g. \"10s\", \"2m\")", raw, min, max)
		return def
	}
	return d
}

// Hours returns name as a number of hours in (0, max], def when unset
// (the seed wodles' *_LOOKBACK_HOURS form).
func (e *Env) Hours(name string, def, max time.Duration) time.Duration {
	raw := e.Lookup(name)
	if raw == "" {
		return def
	}
	h, err := strconv.ParseFloat(raw, 64)
	d := time.Duration(h * float64(time.Hour))
	if err != nil || h <= 0 || d > max {
		e.Fail(name, "%q is not a number of hours above 0 and at most %g", raw, max.Hours())
		return def
	}
	return d
}

// Forbid records an error when name is set: the Lambda reads credentials
// and key material from Secrets Manager only, and a value left in the
// environment is visible to anyone who can read the function's
// configuration. The value is never quoted.
func (e *Env) Forbid(name, instead string) {
	if e.getenv(name) != "" {
		e.Fail(name, "must not be set in Lambda (the environment is readable by anyone who can read the function's configuration); %s", instead)
	}
}

// ConfigError is an invalid function configuration. Every invocation
// fails with it until the configuration is fixed.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string {
	return "wazuh-pull: invalid Lambda configuration: " + strings.ReplaceAll(e.Err.Error(), "\n", "; ")
}

func (e *ConfigError) Unwrap() error { return e.Err }
