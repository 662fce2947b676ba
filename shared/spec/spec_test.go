package spec_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/spec/spectest"
)

func TestValidateFindsEveryMistake(t *testing.T) {
	good := spectest.Descriptor()
	if err := good.Validate(); err != nil {
		t.Fatalf("toy descriptor: %v", err)
	}
	for _, c := range []struct {
		name   string
		break_ func(d *spec.Descriptor)
		want   string
	}{
		{"name", func(d *spec.Descriptor) { d.Name = "toy/x" }, "name:"},
		{"command", func(d *spec.Descriptor) { d.Command = "Toy" }, "command"},
		{"reserved stream", func(d *spec.Descriptor) { d.Streams[0].Name = "all" }, "duplicate or reserved"},
		{"env clash", func(d *spec.Descriptor) { d.Settings[0].Env = "TOY_API_KEY" }, "is also credential api_key"},
		{"common clash", func(d *spec.Descriptor) { d.Credentials[0].Env = "TOY_STATE_FILE" }, "is also a common variable"},
		{"secret flag", func(d *spec.Descriptor) { d.Credentials[0].Flag = "api-key" }, "only public fields may have a flag"},
		{"lookback", func(d *spec.Descriptor) { d.Lookback.Max = time.Minute }, "lookback"},
		{"bad default", func(d *spec.Descriptor) { d.Settings[0].Default = "1000" }, `default: "1000" is not a whole number from 1 to 100`},
		{"lambda without env", func(d *spec.Descriptor) { d.Settings[0].Env = "" }, "needs an environment variable"},
		{"bad choice", func(d *spec.Descriptor) { d.Settings[0].Choices = []string{"10", "1000"} }, `choice: "1000" is not a whole number`},
		{"constructor", func(d *spec.Descriptor) { d.New = nil }, "no constructor"},
	} {
		d := spectest.Descriptor()
		c.break_(&d)
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestSettingParse(t *testing.T) {
	for _, c := range []struct {
		s    spec.Setting
		raw  string
		want any
		err  string
	}{
		{spec.Setting{Kind: spec.Int, Min: 1, Max: 10}, " 7 ", 7, ""},
		{spec.Setting{Kind: spec.Int, Min: 1, Max: 10}, "11", nil, "from 1 to 10"},
		{spec.Setting{Kind: spec.Float}, "2.5", 2.5, ""},
		{spec.Setting{Kind: spec.Float}, "NaN", nil, "not a number"},
		{spec.Setting{Kind: spec.Hours, Max: 168}, "1.5", 90 * time.Minute, ""},
		{spec.Setting{Kind: spec.Hours, Min: 0.01, Max: 168}, "200", nil, "from 0.01 to 168 hours"},
		{spec.Setting{Kind: spec.Hours}, "-1", nil, "hours above 0"},
		{spec.Setting{Kind: spec.Duration, Min: 30, Max: 3600}, "30m", 30 * time.Minute, ""},
		{spec.Setting{Kind: spec.Duration, Min: 30, Max: 3600}, "10", nil, "with a unit"},
		{spec.Setting{Kind: spec.Duration, Min: 30, Max: 3600}, "2h", nil, "from 30s to 1h0m0s"},
		{spec.Setting{Kind: spec.Bool}, "true", true, ""},
		{spec.Setting{Kind: spec.String}, "x", "x", ""},
		{spec.Setting{Kind: spec.Int, Min: 14, Max: 90, Choices: []string{"14", "30", "90"}}, " 30", 30, ""},
		{spec.Setting{Kind: spec.Int, Min: 14, Max: 90, Choices: []string{"14", "30", "90"}}, "15", nil, "not one of 14, 30, 90"},
		{spec.Setting{Kind: spec.Duration, Choices: []string{"1m", "1h"}}, "60s", time.Minute, ""},
	} {
		got, err := c.s.Parse(c.raw)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%v %q: err %v, want %q", c.s.Kind, c.raw, err, c.err)
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%v %q: %v %v, want %v", c.s.Kind, c.raw, got, err, c.want)
		}
	}
}

func TestResolve(t *testing.T) {
	d := spectest.Descriptor()
	v, err := d.Resolve(func(*spec.Setting) (string, string) { return "", "" })
	if err != nil || v.Int("page-size") != 10 {
		t.Fatalf("defaults: %v %v", v, err)
	}
	if _, err := d.Resolve(func(s *spec.Setting) (string, string) { return "0", s.Env }); err == nil || !strings.Contains(err.Error(), "TOY_PAGE_SIZE: ") {
		t.Fatalf("bad value: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("an undeclared setting did not panic")
		}
	}()
	v.Int("undeclared")
}
