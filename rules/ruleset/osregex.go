package ruleset

import (
	"fmt"
	"regexp"
	"strings"
)

// OSRegex translates a Wazuh OS_Regex pattern (the default type of
// <field> and <regex>) into an equivalent Go regular expression, so that
// tests can check which values a rule accepts. OS_Regex is its own
// language, not POSIX:
//
//   - matching is case-insensitive and unanchored unless ^ or $ is given;
//   - | separates alternatives at the top level;
//   - \d digit, \w [A-Za-z0-9@_-], \s a space (not a tab), \p punctuation
//     (!"#$%&'()*+,-.:;<=>?[]{|}), \D \W \S
//     their complements, \. ANY character (a plain . is a literal dot),
//     \t tab, \$ \| \< \( \) \\ the literal characters;
//   - + and * repeat the previous character or class;
//   - every other character, including . ? [ ] { }, is literal.
//
// Constructs outside this list, and OS_Regex's parentheses (whose
// matching differs from a Go group's), are refused rather than guessed.
func OSRegex(pattern string) (*regexp.Regexp, error) {
	var alts []string
	for _, alt := range splitTopLevel(pattern) {
		t, err := translateAlt(alt)
		if err != nil {
			return nil, fmt.Errorf("OS_Regex %q: %w", pattern, err)
		}
		alts = append(alts, t)
	}
	return regexp.Compile("(?i)(?:" + strings.Join(alts, "|") + ")")
}

// splitTopLevel splits on unescaped |.
func splitTopLevel(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '|':
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

var osClasses = map[byte]string{
	'd':  `[0-9]`,
	'w':  `[A-Za-z0-9@_\-]`,
	's':  `[ ]`,
	'p':  `[!"#$%&'()*+,\-.:;<=>?\[\]{|}]`,
	'D':  `[^0-9]`,
	'W':  `[^A-Za-z0-9@_\-]`,
	'S':  `[^ ]`,
	'.':  `(?s:.)`,
	't':  `\t`,
	'$':  `\$`,
	'|':  `\|`,
	'<':  `<`,
	'(':  `\(`,
	')':  `\)`,
	'\\': `\\`,
}

func translateAlt(a string) (string, error) {
	var b strings.Builder
	if strings.HasPrefix(a, "^") {
		b.WriteString("^")
		a = a[1:]
	}
	end := ""
	if strings.HasSuffix(a, "$") && !strings.HasSuffix(a, `\$`) {
		end = "$"
		a = a[:len(a)-1]
	}
	prevToken := false
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch c {
		case '\\':
			if i+1 >= len(a) {
				return "", fmt.Errorf("trailing backslash")
			}
			cls, ok := osClasses[a[i+1]]
			if !ok {
				return "", fmt.Errorf("unknown escape \\%c", a[i+1])
			}
			b.WriteString(cls)
			i++
			prevToken = true
		case '+', '*':
			if !prevToken {
				return "", fmt.Errorf("%c with nothing to repeat", c)
			}
			b.WriteByte(c)
			prevToken = false
		case '(', ')':
			// OS_Regex groups capture and match in ways a Go group does not
			// (the engine refuses "abcc" for ^(ab)c+$): refused here.
			return "", fmt.Errorf("parentheses are not translated")
		case '^', '$':
			return "", fmt.Errorf("%c inside a pattern", c)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
			prevToken = true
		}
	}
	b.WriteString(end)
	return b.String(), nil
}

// Matcher returns a function that reports whether a field value satisfies
// the field condition (without its negate flag).
func (f Field) Matcher() (func(string) bool, error) {
	return compile(f.Type, f.Pattern)
}

func compile(typ, pattern string) (func(string) bool, error) {
	switch typ {
	case "osregex":
		re, err := OSRegex(pattern)
		if err != nil {
			return nil, err
		}
		return re.MatchString, nil
	case "pcre2":
		re, err := regexp.Compile(pattern)
		if err != nil {
			return nil, fmt.Errorf("pcre2 %q (only the RE2 subset is checked): %w", pattern, err)
		}
		return re.MatchString, nil
	}
	return nil, fmt.Errorf("regex type %q is not checked here (use osregex or pcre2)", typ)
}
