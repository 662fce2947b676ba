package hostrun

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// seedLikeFlags is a flag set shaped like a collector's: the seeds'
// switches and one-letter aliases, and longer flags of our own that share
// prefixes with them.
func seedLikeFlags() *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var s string
	var b bool
	var f float64
	var d time.Duration
	stringFlag(fs, &s, "source", "s", "")
	fs.BoolVar(&b, "all", false, "")
	fs.BoolVar(&b, "a", false, "")
	stringFlag(fs, &s, "lookback", "l", "")
	stringFlag(fs, &s, "debug", "d", "")
	fs.StringVar(&s, "log-file", "", "")
	fs.Float64Var(&f, "rate-limit", 0, "")
	fs.DurationVar(&d, "max-runtime", 0, "")
	fs.Int64Var(new(int64), "max-bytes", 0, "")
	return fs
}

// TestArgparseStyle: the forms the seeds' argparse accepted become the
// ones flag accepts, and nothing flag accepts already changes.
func TestArgparseStyle(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"-l24 -d1", "-l 24 -d 1"},
		{"-saudit", "-s audit"},
		{"-ad1", "-a -d 1"},
		{"-a -l 2.5", "-a -l 2.5"},
		{"--look 24 --sou=audit", "--lookback 24 --source=audit"},
		{"--lo 2", "--lookback 2"}, // unique among the seed's flags
		{"--deb 1", "--debug 1"},
		{"--max-r 1m", "--max-runtime 1m"},
		{"--lookback=24 -lookback 3 --all", "--lookback=24 -lookback 3 --all"},
		{"--rate-limit -1 -d -2", "--rate-limit -1 -d -2"}, // values are values
		{"-l -l24", "-l -l24"},
		{"--source audit extra -l24", "--source audit extra -l24"}, // flag stops at extra
		{"-- -l24", "-- -l24"},
		{"-x -l24", "-x -l 24"}, // unknown flags are left for flag to report
		{"-h", "-h"},
		{"--help", "--help"},
	} {
		got, err := argparseStyle(seedLikeFlags(), strings.Fields(c.in))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%q: got %q, want %q", c.in, strings.Join(got, " "), c.want)
		}
	}
	if _, err := argparseStyle(seedLikeFlags(), []string{"--max", "1"}); err == nil || !strings.Contains(err.Error(), "--max-bytes, --max-runtime") {
		t.Errorf("an ambiguous prefix: %v, want an error naming both flags", err)
	}
}

// FuzzArgparseStyle: whatever the arguments, the rewrite does not panic,
// and arguments flag parses as they are come back unchanged.
func FuzzArgparseStyle(f *testing.F) {
	for _, s := range []string{"-l24 -d1", "--look 24", "-ad1", "--rate-limit -1", "-- -x", "--=x", "---l", "-", "-a=true -s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		got, err := argparseStyle(seedLikeFlags(), args)
		if seedLikeFlags().Parse(args) == nil && (err != nil || !slices.Equal(got, args)) {
			t.Fatalf("%q parses as it is, but was rewritten to %q (%v)", args, got, err)
		}
	})
}
