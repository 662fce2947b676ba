package spec

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a setting's value.
type Kind int

// Setting kinds.
const (
	String Kind = iota
	Int
	Float
	// Hours is a number of hours, the seeds' *_LOOKBACK_HOURS form; the
	// value is a time.Duration.
	Hours
	// Duration is a Go duration with a unit ("90s", "30m"); a bare number
	// is refused, since guessing its unit moves deadlines by a factor of 60.
	Duration
	Bool
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Int:
		return "integer"
	case Float:
		return "number"
	case Hours:
		return "hours"
	case Duration:
		return "duration"
	case Bool:
		return "boolean"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Setting is one of a vendor's own options. On a host it is a flag (if
// Flag is set) over an environment variable (if Env is set) over Default;
// in Lambda it is Env when Lambda is true, and the generated template
// offers it as a parameter.
type Setting struct {
	// Name keys the value in Values and names the flag ("page-limit").
	Name string
	// Short is a one-letter flag alias ("" for none).
	Short string
	// Env is the environment variable ("OP_PAGE_LIMIT"; "" for flag only).
	Env  string
	Kind Kind
	// Default is in the setting's own syntax ("1000", "30m", "24"); "" is
	// the zero value.
	Default string
	// Min and Max bound numbers in the kind's unit: the value for Int and
	// Float, hours for Hours, seconds for Duration. Both zero: unbounded.
	Min, Max float64
	// Help says what the setting does, for --help and the docs.
	Help string
	// Lambda is true when the Lambda function reads Env as well.
	Lambda bool
	// Choices, when set, are the only values accepted (in the setting's
	// own syntax, compared as parsed); the generated template offers them
	// as the parameter's allowed values.
	Choices []string
	// Check validates a parsed value beyond its bounds (optional).
	Check func(v any) error
}

func (s *Setting) validate() error {
	if !lowerWord(strings.ReplaceAll(s.Name, "-", "")) {
		return fmt.Errorf("name %q: want lower-case words joined by '-'", s.Name)
	}
	if len(s.Short) > 1 {
		return fmt.Errorf("short flag %q: one letter", s.Short)
	}
	if s.Env != "" && !upperWord(strings.ReplaceAll(s.Env, "_", "")) {
		return fmt.Errorf("env %q: want upper-case words joined by '_'", s.Env)
	}
	if s.Lambda && s.Env == "" {
		return errors.New("a Lambda setting needs an environment variable")
	}
	if s.Help == "" {
		return errors.New("no help text")
	}
	for _, c := range s.Choices {
		if _, err := s.parseChoice(c); err != nil {
			return fmt.Errorf("choice: %w", err)
		}
	}
	if s.Default != "" {
		if _, err := s.Parse(s.Default); err != nil {
			return fmt.Errorf("default: %w", err)
		}
	}
	return nil
}

// Parse reads one value of the setting. Errors name the setting's
// accepted form; values are quoted (settings never hold secrets).
func (s *Setting) Parse(raw string) (any, error) {
	raw = strings.TrimSpace(raw)
	var v any
	var num float64
	bounded := false
	switch s.Kind {
	case String:
		v = raw
	case Int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return nil, s.rangeError(raw)
		}
		v, num, bounded = n, float64(n), true
	case Float:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, s.rangeError(raw)
		}
		v, num, bounded = f, f, true
	case Hours:
		h, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(h) || math.IsInf(h, 0) || h <= 0 {
			return nil, s.rangeError(raw)
		}
		v, num, bounded = time.Duration(h*float64(time.Hour)), h, true
	case Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return nil, s.rangeError(raw)
		}
		v, num, bounded = d, d.Seconds(), true
	case Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("%q is not true or false", raw)
		}
		v = b
	default:
		return nil, fmt.Errorf("unknown kind %v", s.Kind)
	}
	if bounded && (s.Min != 0 || s.Max != 0) && (num < s.Min || num > s.Max) {
		return nil, s.rangeError(raw)
	}
	if len(s.Choices) > 0 && !slices.ContainsFunc(s.Choices, func(c string) bool {
		cv, err := s.parseChoice(c)
		return err == nil && cv == v
	}) {
		return nil, fmt.Errorf("%q is not one of %s", raw, strings.Join(s.Choices, ", "))
	}
	if s.Check != nil {
		if err := s.Check(v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// parseChoice parses one of Choices as a value of the setting.
func (s *Setting) parseChoice(c string) (any, error) {
	bare := *s
	bare.Choices, bare.Check = nil, nil
	return bare.Parse(c)
}

func (s *Setting) rangeError(raw string) error {
	what := map[Kind]string{Int: "a whole number", Float: "a number", Hours: "a number of hours above 0", Duration: "a duration with a unit (e.g. \"90s\", \"30m\")"}[s.Kind]
	if s.Min != 0 || s.Max != 0 {
		unit := ""
		switch s.Kind {
		case Hours:
			unit = " hours"
		case Duration:
			return fmt.Errorf("%q is not %s from %v to %v", raw, what, time.Duration(s.Min*float64(time.Second)), time.Duration(s.Max*float64(time.Second)))
		}
		return fmt.Errorf("%q is not %s from %g to %g%s", raw, what, s.Min, s.Max, unit)
	}
	return fmt.Errorf("%q is not %s", raw, what)
}

// Zero is the value of a setting with no default and no value given.
func (s *Setting) Zero() any {
	switch s.Kind {
	case Int:
		return 0
	case Float:
		return 0.0
	case Hours, Duration:
		return time.Duration(0)
	case Bool:
		return false
	}
	return ""
}

// Values are a vendor's resolved settings, by Setting.Name. Asking for a
// name the vendor did not declare, or with the wrong kind, is a bug in the
// vendor's package and panics in the first test that runs it.
type Values map[string]any

func (v Values) get(name string) any {
	x, ok := v[name]
	if !ok {
		panic(fmt.Sprintf("spec: setting %q is not declared", name))
	}
	return x
}

// String returns a String setting.
func (v Values) String(name string) string { return v.get(name).(string) }

// Int returns an Int setting.
func (v Values) Int(name string) int { return v.get(name).(int) }

// Float returns a Float setting.
func (v Values) Float(name string) float64 { return v.get(name).(float64) }

// Duration returns an Hours or Duration setting.
func (v Values) Duration(name string) time.Duration { return v.get(name).(time.Duration) }

// Bool returns a Bool setting.
func (v Values) Bool(name string) bool { return v.get(name).(bool) }

// Resolve reads every setting through lookup (the flag's value, or the
// variable's, "" when unset) and returns the values, or an error naming
// every bad setting. Settings lookup does not cover keep their default.
func (d *Descriptor) Resolve(lookup func(s *Setting) (raw, from string)) (Values, error) {
	out := Values{}
	var errs []error
	for i := range d.Settings {
		s := &d.Settings[i]
		raw, from := lookup(s)
		if raw == "" {
			raw, from = s.Default, "default"
		}
		if raw == "" {
			out[s.Name] = s.Zero()
			continue
		}
		v, err := s.Parse(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", from, err))
			out[s.Name] = s.Zero()
			continue
		}
		out[s.Name] = v
	}
	return out, errors.Join(errs...)
}
