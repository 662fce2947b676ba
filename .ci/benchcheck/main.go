// Command benchcheck compares `go test -bench` output with the project's
// performance targets and exits non-zero when a figure misses its target,
// when a targeted benchmark did not report (it failed, or was renamed), or
// when the output cannot be read:
//
//	go test -run '^$' -bench . ./... > bench.out
//	benchcheck -targets .ci/bench-targets.txt bench.out
//
// A targets file has one target per line, fields separated by spaces:
//
//	<package> <benchmark> <metric> <op> <value>  [# why]
//
// <benchmark> is the name without the -GOMAXPROCS suffix and may end in
// "/*" to apply to every sub-benchmark; <op> is >=, >, <= or <. Every
// benchmark line that matches is checked, so a figure measured on several
// backlogs must meet the target on each.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	targetsPath := fs.String("targets", ".ci/bench-targets.txt", "targets file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: benchcheck -targets FILE BENCH_OUTPUT")
		return 2
	}
	tf, err := os.Open(*targetsPath)
	if err != nil {
		fmt.Fprintln(stderr, "benchcheck:", err)
		return 2
	}
	defer tf.Close()
	targets, err := parseTargets(tf)
	if err != nil {
		fmt.Fprintf(stderr, "benchcheck: %s: %v\n", *targetsPath, err)
		return 2
	}
	bf, err := os.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "benchcheck:", err)
		return 2
	}
	defer bf.Close()
	results, failures, err := parseBench(bf)
	if err != nil {
		fmt.Fprintf(stderr, "benchcheck: %s: %v\n", fs.Arg(0), err)
		return 2
	}
	verdicts := check(targets, results)
	missed := report(stdout, verdicts)
	for _, f := range failures {
		fmt.Fprintf(stdout, "benchmark run failed: %s\n", f)
	}
	if missed > 0 || len(failures) > 0 {
		fmt.Fprintf(stdout, "benchcheck: %d of %d targets missed, %d failures\n", missed, len(verdicts), len(failures))
		return 1
	}
	fmt.Fprintf(stdout, "benchcheck: all %d targets met\n", len(verdicts))
	return 0
}

// Target is one line of the targets file.
type Target struct {
	Pkg, Bench, Metric, Op string
	Value                  float64
	Line                   int
}

func (t Target) matches(pkg, bench string) bool {
	if pkg != t.Pkg {
		return false
	}
	if prefix, ok := strings.CutSuffix(t.Bench, "/*"); ok {
		return strings.HasPrefix(bench, prefix+"/")
	}
	return bench == t.Bench
}

func (t Target) met(v float64) bool {
	switch t.Op {
	case ">=":
		return v >= t.Value
	case ">":
		return v > t.Value
	case "<=":
		return v <= t.Value
	case "<":
		return v < t.Value
	}
	return false
}

func parseTargets(r io.Reader) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 5 {
			return nil, fmt.Errorf("line %d: want <package> <benchmark> <metric> <op> <value>, got %d fields", n, len(f))
		}
		switch f[3] {
		case ">=", ">", "<=", "<":
		default:
			return nil, fmt.Errorf("line %d: operator %q: want >=, >, <= or <", n, f[3])
		}
		v, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q: %v", n, f[4], err)
		}
		out = append(out, Target{Pkg: f[0], Bench: f[1], Metric: f[2], Op: f[3], Value: v, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no targets")
	}
	return out, nil
}

// Result is one benchmark line: its package, name (without the
// -GOMAXPROCS suffix), iterations and metrics by unit.
type Result struct {
	Pkg, Bench string
	N          int64
	Metrics    map[string]float64
}

// parseBench reads go test -bench output. Lines it does not know are
// skipped (logs, PASS, ok); a benchmark line that does not parse is an
// error, and FAIL lines are returned as failures.
func parseBench(r io.Reader) ([]Result, []string, error) {
	var out []Result
	var failures []string
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimSpace(strings.TrimPrefix(line, "pkg: "))
		case strings.HasPrefix(line, "--- FAIL"), strings.HasPrefix(line, "FAIL"), strings.HasPrefix(line, "panic:"):
			failures = append(failures, strings.TrimSpace(line))
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if i := strings.Index(line, "--- FAIL"); i > 0 && len(f) > 1 && f[1] == "---" {
				// A sub-benchmark that failed before it reported: go test
				// prints the failure after its name, on the same line.
				failures = append(failures, strings.TrimSpace(line[i:]))
				continue
			}
			if len(f) == 1 {
				// The name alone: the benchmark logged before its result
				// line, or failed; its figures (if any) follow on a line
				// of their own, which go test prints with the name again.
				continue
			}
			if len(f) < 4 || len(f)%2 != 0 {
				return nil, nil, fmt.Errorf("line %d: not a benchmark result: %q", n, line)
			}
			if pkg == "" {
				return nil, nil, fmt.Errorf("line %d: benchmark result before any \"pkg:\" line", n)
			}
			iters, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: iterations %q: %v", n, f[1], err)
			}
			res := Result{Pkg: pkg, Bench: trimProcs(f[0]), N: iters, Metrics: map[string]float64{}}
			for i := 2; i < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					return nil, nil, fmt.Errorf("line %d: value %q of %s: %v", n, f[i], f[i+1], err)
				}
				res.Metrics[f[i+1]] = v
			}
			out = append(out, res)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	return out, failures, nil
}

// trimProcs removes the -GOMAXPROCS suffix go test adds to a name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}

// Verdict is one target checked against one result, or a target with no
// result at all.
type Verdict struct {
	Target   Target
	Bench    string
	Found    bool // a result line for the benchmark
	Reported bool // with the target's metric
	Value    float64
	Met      bool
}

func check(targets []Target, results []Result) []Verdict {
	var out []Verdict
	for _, t := range targets {
		found := false
		for _, r := range results {
			if !t.matches(r.Pkg, r.Bench) {
				continue
			}
			found = true
			v, ok := r.Metrics[t.Metric]
			out = append(out, Verdict{Target: t, Bench: r.Bench, Found: true, Value: v, Reported: ok, Met: ok && t.met(v)})
		}
		if !found {
			out = append(out, Verdict{Target: t, Bench: t.Bench})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Target.Line < out[j].Target.Line })
	return out
}

func report(w io.Writer, vs []Verdict) (missed int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "package\tbenchmark\tmetric\tmeasured\ttarget\tresult")
	for _, v := range vs {
		measured, result := strconv.FormatFloat(v.Value, 'f', -1, 64), "ok"
		switch {
		case !v.Found:
			measured, result = "-", "MISSING (the benchmark did not report)"
		case !v.Reported:
			measured, result = "-", "MISSING (the metric was not reported)"
		case !v.Met:
			result = "MISSED"
		}
		if !v.Met {
			missed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\n", shortPkg(v.Target.Pkg), v.Bench, v.Target.Metric, measured, v.Target.Op, strconv.FormatFloat(v.Target.Value, 'f', -1, 64), result)
	}
	tw.Flush()
	return missed
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/wazuh-pull/wazuh-pull/")
}
