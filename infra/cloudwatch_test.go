package infra

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cloudwatch evaluates the template's alarms over a function's log lines
// the way CloudWatch would for one period: it extracts the EMF metrics
// (a value counts for a metric when its line's directive declares the
// name with exactly the queried dimension set, in the namespace), runs
// the Contributor Insights rules over the JSON lines, and computes the
// metric math the generator writes. It understands exactly the forms
// infra/gen produces and fails on anything else, so a change of form is
// noticed here.
type cloudwatch struct {
	t         *testing.T
	lines     []map[string]any
	resources map[string]any
	// param resolves a parameter's value.
	param func(name string) string
}

// value returns the statistic of a metric over the lines, and whether
// there was any datapoint.
func (c *cloudwatch) value(stat map[string]any) (float64, bool) {
	metric := dig(c.t, stat, "Metric").(map[string]any)
	ns := c.resolve(metric["Namespace"])
	name := metric["MetricName"].(string)
	want := map[string]string{}
	for _, d := range metric["Dimensions"].([]any) {
		want[d.(map[string]any)["Name"].(string)] = c.resolve(d.(map[string]any)["Value"])
	}
	var vals []float64
	for _, l := range c.lines {
		dir, ok := emfDirective(l)
		if !ok || dir["Namespace"] != ns || !declares(dir, name) || !hasDimensionSet(dir, want) {
			continue
		}
		match := true
		for k, v := range want {
			if l[k] != v {
				match = false
			}
		}
		if v, ok := l[name].(float64); ok && match {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return 0, false
	}
	switch s := stat["Stat"]; s {
	case "Sum":
		sum := 0.0
		for _, v := range vals {
			sum += v
		}
		return sum, true
	case "Maximum":
		return slices.Max(vals), true
	default:
		c.t.Fatalf("statistic %v is not evaluated here", s)
	}
	return 0, false
}

func emfDirective(l map[string]any) (map[string]any, bool) {
	aws, ok := l["_aws"].(map[string]any)
	if !ok {
		return nil, false
	}
	dirs, _ := aws["CloudWatchMetrics"].([]any)
	if len(dirs) != 1 {
		return nil, false
	}
	d, ok := dirs[0].(map[string]any)
	return d, ok
}

func declares(dir map[string]any, name string) bool {
	for _, m := range dir["Metrics"].([]any) {
		if m.(map[string]any)["Name"] == name {
			return true
		}
	}
	return false
}

func hasDimensionSet(dir map[string]any, want map[string]string) bool {
	for _, set := range dir["Dimensions"].([]any) {
		names := map[string]bool{}
		for _, n := range set.([]any) {
			names[n.(string)] = true
		}
		if len(names) != len(want) {
			continue
		}
		all := true
		for k := range want {
			all = all && names[k]
		}
		if all {
			return true
		}
	}
	return false
}

func (c *cloudwatch) resolve(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if name, ok := refName(v); ok {
		return c.param(name)
	}
	c.t.Fatalf("cannot resolve %v", v)
	return ""
}

// contributors runs a Contributor Insights rule (JSON log format, Count
// aggregation) over the lines and returns the distinct contributors.
func (c *cloudwatch) contributors(ruleID string) map[string]bool {
	rule := c.resources[ruleID].(map[string]any)
	body, ok := subString(dig(c.t, rule, "Properties", "RuleBody"))
	if !ok {
		c.t.Fatalf("%s: RuleBody is not a Fn::Sub string", ruleID)
	}
	body = regexp.MustCompile(`\$\{[A-Za-z0-9:.]+\}`).ReplaceAllString(body, "log-group")
	var r struct {
		Schema       struct{ Name string }
		LogFormat    string
		AggregateOn  string
		Contribution struct {
			Keys    []string
			Filters []struct {
				Match     string
				In        []any
				IsPresent *bool
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		c.t.Fatalf("%s: rule body is not JSON: %v\n%s", ruleID, err, body)
	}
	if r.Schema.Name != "CloudWatchLogRule" || r.LogFormat != "JSON" || r.AggregateOn != "Count" || len(r.Contribution.Keys) == 0 {
		c.t.Fatalf("%s: unexpected rule %+v", ruleID, r)
	}
	out := map[string]bool{}
	for _, l := range c.lines {
		keep := true
		for _, f := range r.Contribution.Filters {
			v, present := jsonPath(l, f.Match)
			switch {
			case f.IsPresent != nil:
				keep = keep && present == *f.IsPresent
			case f.In != nil:
				keep = keep && present && slices.Contains(f.In, v)
			default:
				c.t.Fatalf("%s: filter %+v is not evaluated here", ruleID, f)
			}
		}
		if !keep {
			continue
		}
		var key []string
		for _, k := range r.Contribution.Keys {
			v, ok := jsonPath(l, k)
			if !ok {
				keep = false
			}
			key = append(key, fmt.Sprint(v))
		}
		if keep {
			out[strings.Join(key, "/")] = true
		}
	}
	return out
}

// jsonPath reads "$.a.b" from a decoded JSON line.
func jsonPath(l map[string]any, path string) (any, bool) {
	var v any = l
	for _, p := range strings.Split(strings.TrimPrefix(path, "$."), ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

var (
	arrayExpr   = regexp.MustCompile(`^(SUM|MAX)\(\[([a-z0-9, ]+)\]\)$`)
	insightExpr = regexp.MustCompile(`^INSIGHT_RULE_METRIC\('\$\{([A-Za-z0-9]+)\.RuleName\}', 'UniqueContributors'\)$`)
	fillExpr    = regexp.MustCompile(`^FILL\(([a-z0-9]+), 0\) / ([0-9]+)$`)
)

// alarm evaluates a metric-math alarm: whether it would be in ALARM, and
// the value it compared.
func (c *cloudwatch) alarm(id string) (fires bool, value float64, hasData bool) {
	props := dig(c.t, c.resources[id], "Properties").(map[string]any)
	queries := props["Metrics"].([]any)
	vals := map[string]float64{}
	have := map[string]bool{}
	var result string
	for _, q := range queries {
		q := q.(map[string]any)
		qid := q["Id"].(string)
		if rd, _ := q["ReturnData"].(bool); rd {
			result = qid
		}
		if stat, ok := q["MetricStat"].(map[string]any); ok {
			vals[qid], have[qid] = c.value(stat)
			continue
		}
		expr := q["Expression"]
		if s, ok := subString(expr); ok {
			expr = s
		}
		e := expr.(string)
		switch {
		case arrayExpr.MatchString(e):
			m := arrayExpr.FindStringSubmatch(e)
			var xs []float64
			for _, ref := range strings.Split(m[2], ",") {
				if ref = strings.TrimSpace(ref); have[ref] {
					xs = append(xs, vals[ref])
				}
			}
			if len(xs) > 0 {
				have[qid] = true
				if m[1] == "SUM" {
					for _, x := range xs {
						vals[qid] += x
					}
				} else {
					vals[qid] = slices.Max(xs)
				}
			}
		case insightExpr.MatchString(e):
			n := len(c.contributors(insightExpr.FindStringSubmatch(e)[1]))
			vals[qid], have[qid] = float64(n), n > 0
		case fillExpr.MatchString(e):
			m := fillExpr.FindStringSubmatch(e)
			div, _ := strconv.ParseFloat(m[2], 64)
			vals[qid], have[qid] = vals[m[1]]/div, true
		default:
			c.t.Fatalf("%s: expression %q is not evaluated here", id, e)
		}
	}
	if result == "" {
		c.t.Fatalf("%s: no query returns data", id)
	}
	value, hasData = vals[result], have[result]
	if !hasData {
		return props["TreatMissingData"] == "breaching", 0, false
	}
	var threshold float64
	switch th := props["Threshold"].(type) {
	case string:
		threshold, _ = strconv.ParseFloat(th, 64)
	case map[string]any:
		if name, ok := refName(th); ok {
			threshold, _ = strconv.ParseFloat(c.param(name), 64)
		} else if l, ok := th["Fn::Length"]; ok {
			name, _ := refName(l)
			threshold = float64(len(strings.Split(c.param(name), ",")))
		} else {
			c.t.Fatalf("%s: threshold %v is not evaluated here", id, th)
		}
	}
	switch op := props["ComparisonOperator"]; op {
	case "GreaterThanThreshold":
		fires = value > threshold
	case "GreaterThanOrEqualToThreshold":
		fires = value >= threshold
	case "LessThanThreshold":
		fires = value < threshold
	default:
		c.t.Fatalf("%s: operator %v is not evaluated here", id, op)
	}
	if math.IsNaN(value) {
		c.t.Fatalf("%s: NaN", id)
	}
	return fires, value, true
}
