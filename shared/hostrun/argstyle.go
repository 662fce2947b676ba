package hostrun

import (
	"flag"
	"fmt"
	"sort"
	"strings"
)

// argparseStyle rewrites the argument forms the seed wodles' parser
// (Python's argparse) accepted and Go's flag package does not, so that an
// ossec.conf <command> written for a seed keeps working:
//
//   - a one-letter flag with its value attached: -l24, -d1, -saudit;
//   - one-letter switches run together, the last one possibly taking a
//     value: -ad1 (-a -d 1);
//   - a long flag shortened to a prefix: --look 24, --sou=audit, --lo 2
//     (a prefix the seed's flags alone make unambiguous means what it
//     meant there).
//
// Anything flag would accept already is left alone (-lookback 24, -l 24,
// --lookback=24), as is every value that follows a flag taking one
// (--rate-limit -1) and everything from "--" or the first argument that
// is not a flag on, where flag stops. A prefix of several long flags is
// an error naming them, as argparse's was.
func argparseStyle(fs *flag.FlagSet, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			// flag stops at the first argument that is not one.
			return append(out, args[i:]...), nil
		}
		long := strings.HasPrefix(a, "--")
		body := strings.TrimLeft(a, "-")
		name, value, hasValue := strings.Cut(body, "=")
		if f := fs.Lookup(name); f != nil || name == "h" || name == "help" {
			out = append(out, a)
			if !hasValue && f != nil && !isBool(f) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		var expanded []string
		needsNext := false
		if long {
			f, err := longPrefix(fs, name)
			if err != nil {
				return nil, err
			}
			if f == nil {
				out = append(out, a) // flag reports it
				continue
			}
			expanded = []string{"--" + f.Name}
			if hasValue {
				expanded[0] += "=" + value
			}
			needsNext = !hasValue && !isBool(f)
		} else {
			var ok bool
			if expanded, needsNext, ok = shortRun(fs, body); !ok {
				out = append(out, a) // flag reports it
				continue
			}
		}
		out = append(out, expanded...)
		if needsNext && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out, nil
}

// shortRun splits "ad1" (the text after one dash) into one-letter flags:
// switches while they are switches, then a flag taking the rest as its
// value, or the next argument when nothing is left (needsNext). ok is
// false when the text is not such a run.
func shortRun(fs *flag.FlagSet, body string) (expanded []string, needsNext, ok bool) {
	for j := 0; j < len(body); j++ {
		f := fs.Lookup(body[j : j+1])
		if f == nil {
			return nil, false, false
		}
		expanded = append(expanded, "-"+f.Name)
		if isBool(f) {
			continue
		}
		if rest := body[j+1:]; rest != "" {
			return append(expanded, rest), false, true
		}
		return expanded, true, true
	}
	return expanded, false, true
}

// longPrefix finds the one flag of more than one letter whose name starts
// with prefix (nil when none does).
func longPrefix(fs *flag.FlagSet, prefix string) (*flag.Flag, error) {
	var matches []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) > 1 && strings.HasPrefix(f.Name, prefix) {
			matches = append(matches, f)
		}
	})
	if len(matches) > 1 {
		// The seeds' own flags come first: a prefix that was unique among
		// them (--lo for --lookback) still means what it meant there.
		var seeds []*flag.Flag
		for _, f := range matches {
			if seedFlags[f.Name] {
				seeds = append(seeds, f)
			}
		}
		if len(seeds) == 1 {
			matches = seeds
		}
	}
	switch len(matches) {
	case 0:
		return nil, nil
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, f := range matches {
		names[i] = "--" + f.Name
	}
	sort.Strings(names)
	return nil, fmt.Errorf("ambiguous option --%s could match %s", prefix, strings.Join(names, ", "))
}

// seedFlags are the long flags every seed wodle had.
var seedFlags = map[string]bool{"source": true, "all": true, "lookback": true, "debug": true}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
