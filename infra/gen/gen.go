// Package gen writes the SAM template of the AWS deployment from the
// vendor descriptors (shared/spec): one template holding every vendor,
// each enabled by its own tenants parameter, with the shared parts (state
// table, queues, schedule group, scheduler role, alarm topic) once. A new
// vendor adds no hand-written YAML: its function, role, log group,
// asynchronous invocation config, schedules, parameters and alarms all
// come from its descriptor.
//
// infra/cmd/gentemplate writes infra/template.yaml for the registered
// vendors (go generate ./infra); a test fails when the checked-in file
// differs from what the generator writes.
package gen

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets/awssm"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// StateActions are the DynamoDB actions a function needs on the state
// table, each limited to its own vendor's items by dynamodb:LeadingKeys.
// It is the one place to change when the state store calls something
// else (a test compares it with the calls the function makes on the
// wire).
var StateActions = []string{
	"dynamodb:GetItem",
	"dynamodb:UpdateItem",
}

// DefaultSchedule is a vendor's common schedule unless changed.
const DefaultSchedule = "rate(5 minutes)"

// Defaults of the alarm windows, in seconds. StaleWindows lists the
// windows a stale-streams alarm may use: CloudWatch alarm periods are
// whole minutes, and an evaluation spans at most a day.
var StaleWindows = []int{600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400}

const (
	defaultStaleWindow = 1800
	defaultLagSeconds  = 3600
)

//go:embed template.yaml.tmpl
var templateText string

// Template returns the SAM template for the vendors, in their order.
func Template(vendors []spec.Descriptor) ([]byte, error) {
	d, err := build(vendors)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New("template").Funcs(template.FuncMap{
		"q":    quote,
		"join": strings.Join,
		// sub writes a Fn::Sub reference: ${Name}.
		"sub": func(parts ...string) string { return "${" + strings.Join(parts, "") + "}" },
	}).Parse(templateText)
	if err != nil {
		return nil, fmt.Errorf("gen: parse template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	return buf.Bytes(), nil
}

// data is what the template text is executed with.
type data struct {
	Vendors      []vendor
	StateActions []string
	TenantsPath  string
	Layouts      []string
	// AnyVendor is the Rules assertion that at least one vendor has
	// tenants.
	AnyVendor string
	// DefaultSyslogBudget is the function's own default budget.
	DefaultSyslogBudget string
	// Env names of the shared function variables.
	Env map[string]string
}

// vendor is one descriptor as the template uses it.
type vendor struct {
	spec.Descriptor
	// ID prefixes the vendor's logical ids and parameters ("Onepassword").
	ID      string
	Streams []stream
	Groups  []group
	Params  []param
	// Env are the vendor's own function variables.
	Env []envVar
	// SyslogShares is the number of shares the deployment's syslog budget
	// is divided into, as the vendor's function gets it (see syslogShares).
	SyslogShares string
}

type stream struct {
	spec.Stream
	ID string // "Audit"
	// ScheduleParam is the parameter holding the stream's schedule.
	ScheduleParam string
}

// group is the streams that share a schedule parameter, and so share
// their lag and stale-streams alarms.
type group struct {
	// ID is "" for the vendor's common schedule, else the stream's ID.
	ID      string
	Streams []stream
	// LagParam and StaleParam name the thresholds' parameters.
	LagParam, StaleParam string
	// Label describes the group in alarm descriptions.
	Label string
}

// StreamNames lists the group's stream names.
func (g group) StreamNames() []string {
	out := make([]string, len(g.Streams))
	for i, s := range g.Streams {
		out[i] = s.Name
	}
	return out
}

// StreamNamesJSON is the group's stream names as a JSON array.
func (g group) StreamNamesJSON() string {
	b, _ := json.Marshal(g.StreamNames())
	return string(b)
}

type param struct {
	Name                  string
	Type                  string
	Default               *string
	MinValue, MaxValue    *string
	AllowedValues         []string
	AllowedPattern        string
	ConstraintDescription string
	Description           string
}

type envVar struct {
	Name string
	// Ref is the parameter the value comes from.
	Ref string
}

var idPart = regexp.MustCompile(`[^A-Za-z0-9]+`)

// VendorID is the prefix of a vendor's logical ids and parameters: its
// command with a capital ("Onepassword", "Cortexxdr").
func VendorID(d spec.Descriptor) string { return camel(d.Command) }

// StreamID is a stream name as a logical id part ("item_usage" →
// "ItemUsage").
func StreamID(name string) string { return camel(name) }

func camel(s string) string {
	var b strings.Builder
	for _, part := range idPart.Split(s, -1) {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func build(descs []spec.Descriptor) (*data, error) {
	if len(descs) == 0 {
		return nil, errors.New("gen: no vendors")
	}
	d := &data{
		StateActions: StateActions,
		TenantsPath:  awssm.TenantsPath,
		Env: map[string]string{
			"StateTable": lambdarun.EnvStateTable, "SyslogURL": lambdarun.EnvSyslogURL, "SyslogTLSSecret": lambdarun.EnvSyslogTLSSecret,
			"SyslogClientCert": lambdarun.EnvSyslogClientCert, "SecretPrefix": lambdarun.EnvSecretPrefix, "SecretLayout": lambdarun.EnvSecretLayout,
			"SecretTTL": lambdarun.EnvSecretTTL, "DeadlineMargin": lambdarun.EnvDeadlineMargin, "RateLimit": lambdarun.EnvRateLimit,
			"LogLevel": lambdarun.EnvLogLevel, "MetricsNamespace": lambdarun.EnvMetricsNamespace, "TenantMetrics": lambdarun.EnvTenantMetrics,
			"SyslogBudget": lambdarun.EnvSyslogBudget, "SyslogShares": lambdarun.EnvSyslogShares,
		},
		DefaultSyslogBudget: strconv.Itoa(lambdarun.DefaultSyslogBudget),
	}
	for _, l := range awssm.Layouts() {
		d.Layouts = append(d.Layouts, string(l))
	}
	ids := map[string]string{}
	var errs []error
	for _, desc := range descs {
		if err := desc.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		v, err := buildVendor(desc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := ids[v.ID]; dup {
			errs = append(errs, fmt.Errorf("gen: vendors %s and %s both get the logical id prefix %s", prev, desc.Name, v.ID))
		}
		ids[v.ID] = desc.Name
		if desc.Name == awssm.TenantsPath {
			errs = append(errs, fmt.Errorf("gen: vendor name %q is the path of per-tenant secrets", desc.Name))
		}
		d.Vendors = append(d.Vendors, v)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var none []string
	for _, v := range d.Vendors {
		none = append(none, fmt.Sprintf(`{"Fn::EachMemberEquals": [{"Ref": %q}, ""]}`, v.ID+"Tenants"))
	}
	d.AnyVendor = anyOf(none)
	for i := range d.Vendors {
		d.Vendors[i].SyslogShares = syslogShares(d.Vendors, i)
	}
	return d, nil
}

// syslogShares returns the expression the syslog share of vendor self's
// function comes from: every enabled vendor's tenants, once per stream,
// each followed by a comma, split at the commas and counted. Every tenant
// stream runs as its own invocation and all may be catching up at once,
// so each gets an equal share of the deployment's budget. CloudFormation
// can count (Fn::Length, resolved by AWS::LanguageExtensions with the
// parameter values) but neither multiply nor subtract: the split leaves
// one empty element after the last comma, so the count is the tenant
// streams plus one, a spare share that a manual or backfill invocation
// can use. The function's own vendor is enabled wherever the function
// exists, so its part needs no condition.
func syslogShares(vendors []vendor, self int) string {
	var pieces []string
	for i, v := range vendors {
		tenants := fmt.Sprintf(`{"Fn::Join": [",", {"Ref": %q}]}`, v.ID+"Tenants")
		perStream := make([]string, len(v.Streams))
		for i := range perStream {
			perStream[i] = tenants
		}
		piece := fmt.Sprintf(`{"Fn::Join": ["", [{"Fn::Join": [",", [%s]]}, ","]]}`, strings.Join(perStream, ", "))
		if i != self {
			piece = fmt.Sprintf(`{"Fn::If": [%q, %s, ""]}`, v.ID+"Enabled", piece)
		}
		pieces = append(pieces, piece)
	}
	return fmt.Sprintf(`{"Fn::Length": {"Fn::Split": [",", {"Fn::Join": ["", [%s]]}]}}`, strings.Join(pieces, ", "))
}

// anyOf returns a Rules assertion that not every condition holds (Fn::And
// takes 2 to 10 conditions, so longer lists nest).
func anyOf(conds []string) string {
	var all func([]string) string
	all = func(c []string) string {
		switch {
		case len(c) == 1:
			return c[0]
		case len(c) <= 10:
			return `{"Fn::And": [` + strings.Join(c, ", ") + `]}`
		}
		return `{"Fn::And": [` + all(c[:9]) + ", " + all(c[9:]) + `]}`
	}
	return `{"Fn::Not": [` + all(conds) + `]}`
}

func buildVendor(desc spec.Descriptor) (vendor, error) {
	v := vendor{Descriptor: desc, ID: VendorID(desc)}
	if v.ID == "" {
		return v, fmt.Errorf("gen: vendor %s: no logical id prefix from command %q", desc.Name, desc.Command)
	}
	seen := map[string]string{}
	common := group{LagParam: "LagAlarmThresholdSeconds", StaleParam: "StaleAlarmSeconds"}
	var own []group
	for _, s := range desc.Streams {
		st := stream{Stream: s, ID: StreamID(s.Name), ScheduleParam: v.ID + "Schedule"}
		if prev, dup := seen[st.ID]; dup {
			return v, fmt.Errorf("gen: vendor %s: streams %s and %s both become %s in logical ids", desc.Name, prev, s.Name, st.ID)
		}
		seen[st.ID] = s.Name
		if s.Schedule != "" {
			st.ScheduleParam = v.ID + st.ID + "Schedule"
			own = append(own, group{ID: st.ID, Streams: []stream{st},
				LagParam: v.ID + st.ID + "LagAlarmThresholdSeconds", StaleParam: v.ID + st.ID + "StaleAlarmSeconds",
				Label: s.Name + " (on " + st.ScheduleParam + ")"})
		} else {
			common.Streams = append(common.Streams, st)
		}
		v.Streams = append(v.Streams, st)
	}
	if len(common.Streams) > 0 {
		common.Label = strings.Join(common.StreamNames(), ", ") + " (on " + v.ID + "Schedule)"
		v.Groups = append(v.Groups, common)
	}
	v.Groups = append(v.Groups, own...)

	names := v.StreamNamesList()
	v.Params = append(v.Params, param{
		Name: v.ID + "Tenants", Type: "CommaDelimitedList", Default: ptr(""),
		// Each member of the list is checked; an empty list is one empty
		// member, which the Rules refuse beside real names.
		AllowedPattern:        `^$|^[A-Za-z0-9_-]{1,64}$`,
		ConstraintDescription: "comma-separated tenant names, each 1-64 letters, digits, '-' or '_', no spaces",
		Description: fmt.Sprintf("%s tenants, comma-separated (e.g. acme,globex); empty leaves this vendor out. Each tenant gets one schedule per stream (%s) and reads its credentials as SecretLayout says (default: the secret <SecretPrefix>/%s/<tenant>).",
			desc.Title, strings.Join(names, ", "), desc.Name),
	})
	if len(common.Streams) > 0 {
		v.Params = append(v.Params, scheduleParam(v.ID+"Schedule", DefaultSchedule,
			fmt.Sprintf("How often each %s tenant's %s run (EventBridge Scheduler rate() or cron(), UTC).", desc.Title, strings.Join(common.StreamNames(), ", "))))
	}
	for _, g := range own {
		s := g.Streams[0]
		v.Params = append(v.Params, scheduleParam(s.ScheduleParam, s.Schedule,
			fmt.Sprintf("How often each %s tenant's %s stream runs (its own default; rate() or cron(), UTC).", desc.Title, s.Name)))
		interval := scheduleInterval(s.Schedule)
		v.Params = append(v.Params,
			numberParam(g.LagParam, strconv.Itoa(int(2*interval.Seconds())+defaultLagSeconds), "60", "",
				fmt.Sprintf("Lag (now minus the newest delivered %s event) that, held for 15 minutes, raises the %s lag alarm; keep it above the stream's schedule interval.", s.Name, desc.Title)),
			param{Name: g.StaleParam, Type: "Number", Default: ptr(strconv.Itoa(staleWindow(interval))), AllowedValues: windowValues(),
				Description: fmt.Sprintf("Seconds in which every %s tenant's %s stream must run at least once, or the stale-streams alarm fires; at least the stream's schedule interval.", desc.Title, s.Name)},
		)
	}
	lb := desc.Lookback
	v.Params = append(v.Params, numberParam(v.ID+"LookbackHours", hours(lb.Default), hours(min(lb.Default, time.Hour)), strconv.Itoa(int(lb.Max.Hours())),
		fmt.Sprintf("%s: how far back a stream with no cursor starts, in hours (at most %g).", desc.Env(spec.EnvLookback), math.Floor(lb.Max.Hours()))))
	v.Env = append(v.Env, envVar{Name: desc.Env(spec.EnvLookback), Ref: v.ID + "LookbackHours"})

	rate := "-1"
	rateHelp := fmt.Sprintf("%s: requests per minute per invocation; -1 disables pacing.", lambdarun.EnvRateLimit)
	if desc.RequestsPerMinute > 0 {
		rate = strconv.FormatFloat(math.Floor(desc.RequestsPerMinute/float64(len(desc.Streams))*100)/100, 'f', -1, 64)
		rateHelp = fmt.Sprintf("%s: requests per minute per invocation. The collector's sustained budget for the %s is %g a minute per credential (within what the vendor allows), and a tenant's %d streams run as concurrent invocations on one credential, hence a share each. -1 disables pacing; 0 is refused.",
			lambdarun.EnvRateLimit, desc.Title, desc.RequestsPerMinute, len(desc.Streams))
	}
	v.Params = append(v.Params, numberParam(v.ID+"RateLimit", rate, "-1", "1000000", rateHelp))
	v.Env = append(v.Env, envVar{Name: lambdarun.EnvRateLimit, Ref: v.ID + "RateLimit"})

	for _, s := range desc.Settings {
		if !s.Lambda {
			continue
		}
		p, err := settingParam(v.ID, s)
		if err != nil {
			return v, fmt.Errorf("gen: vendor %s: setting %s: %w", desc.Name, s.Name, err)
		}
		v.Params = append(v.Params, p)
		v.Env = append(v.Env, envVar{Name: s.Env, Ref: p.Name})
	}
	return v, nil
}

// StreamNamesList lists the vendor's stream names.
func (v vendor) StreamNamesList() []string { return v.Descriptor.StreamNames() }

func scheduleParam(name, def, help string) param {
	return param{Name: name, Type: "String", Default: ptr(def), AllowedPattern: `^(rate|cron)\(.+\)$`,
		ConstraintDescription: "an EventBridge Scheduler rate(...) or cron(...) expression", Description: help}
}

func numberParam(name, def, min, max, help string) param {
	p := param{Name: name, Type: "Number", Default: ptr(def), Description: help}
	if min != "" {
		p.MinValue = ptr(min)
	}
	if max != "" {
		p.MaxValue = ptr(max)
	}
	return p
}

func settingParam(vendorID string, s spec.Setting) (param, error) {
	p := param{Name: vendorID + camel(s.Name), Description: s.Help + " (" + s.Env + ")"}
	if s.Default != "" {
		p.Default = ptr(s.Default)
	}
	bound := func() {
		if s.Min != 0 || s.Max != 0 {
			p.MinValue = ptr(strconv.FormatFloat(s.Min, 'f', -1, 64))
			p.MaxValue = ptr(strconv.FormatFloat(s.Max, 'f', -1, 64))
		}
	}
	switch s.Kind {
	case spec.Int, spec.Float, spec.Hours:
		p.Type = "Number"
		bound()
	case spec.Duration:
		p.Type, p.AllowedPattern = "String", `^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
		p.ConstraintDescription = "a Go duration with a unit, e.g. 90s or 30m"
		if s.Min != 0 || s.Max != 0 {
			// A pattern cannot bound a duration: the function refuses one
			// out of range at its first run (ConfigError); say it here.
			span := fmt.Sprintf("from %v to %v", time.Duration(s.Min*float64(time.Second)), time.Duration(s.Max*float64(time.Second)))
			p.ConstraintDescription += ", " + span
			p.Description = s.Help + ", " + span + " (" + s.Env + ")"
		}
	case spec.Bool:
		p.Type, p.AllowedValues = "String", []string{"true", "false"}
		if p.Default == nil {
			p.Default = ptr("false")
		}
	case spec.String:
		p.Type = "String"
	default:
		return p, fmt.Errorf("kind %v has no parameter type", s.Kind)
	}
	if len(s.Choices) > 0 {
		p.AllowedValues, p.MinValue, p.MaxValue = s.Choices, nil, nil
	}
	if p.Default == nil {
		// Without a default every deployment would have to give it; the
		// function's own zero value is what an unset variable means.
		return p, errors.New("a Lambda setting needs a default for the template")
	}
	return p, nil
}

var rateExpr = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)

// scheduleInterval is a schedule expression's interval: a rate() says it;
// a cron() is taken to run daily.
func scheduleInterval(expr string) time.Duration {
	m := rateExpr.FindStringSubmatch(expr)
	if m == nil {
		return 24 * time.Hour
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
	return time.Duration(n) * unit
}

// staleWindow is the smallest allowed window holding two runs (one for a
// daily stream, the longest window allowed).
func staleWindow(interval time.Duration) int {
	for _, w := range StaleWindows {
		if time.Duration(w)*time.Second >= 2*interval {
			return w
		}
	}
	return StaleWindows[len(StaleWindows)-1]
}

func windowValues() []string {
	out := make([]string, len(StaleWindows))
	for i, w := range StaleWindows {
		out[i] = strconv.Itoa(w)
	}
	return out
}

func hours(d time.Duration) string { return strconv.FormatFloat(d.Hours(), 'f', -1, 64) }

func ptr(s string) *string { return &s }

// quote writes s as a YAML double-quoted scalar: JSON string syntax is a
// subset of it, except that YAML also refuses DEL, the C1 controls and
// U+FFFE/U+FFFF raw, which are escaped here.
func quote(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	var out strings.Builder
	for _, r := range strings.TrimSuffix(buf.String(), "\n") {
		if r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff {
			fmt.Fprintf(&out, "\\u%04x", r)
			continue
		}
		out.WriteRune(r)
	}
	return out.String()
}
