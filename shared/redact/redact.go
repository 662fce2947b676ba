// Package redact removes known secret values from text before it is logged,
// put in an error event, or returned in an error.
//
// Matching on the values themselves (not on header names) also catches a
// secret that a vendor echoes back in an error body or that a proxy URL
// carries as userinfo. A value is matched in every form it can take on the
// way back (see forms): as is, JSON-escaped, URL-encoded, base64-encoded,
// and cut short (a prefix of PrefixLen bytes or more, as an error message
// that truncates the token shows it).
package redact

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Mask replaces every secret value.
const Mask = "[REDACTED]"

// minLen keeps short, common strings (a one-letter password, "test") from
// mangling unrelated text; such values are weak secrets anyway.
const minLen = 4

// PrefixLen is the shortest start of a secret that is masked on its own: a
// vendor that echoes a token cut short ("invalid token eyJhbGciOiJFUzI1…")
// still shows part of it. Shorter starts are too likely to occur by chance.
const PrefixLen = 12

// Redactor holds the secret values of one process. It is safe for
// concurrent use. The zero value redacts nothing until secrets are added.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // every form, longest first, so a secret containing another is masked whole
	repl    *strings.Replacer
	heads   map[string][]string // first PrefixLen bytes → the longer forms starting so, longest first
}

// New returns an empty Redactor.
func New() *Redactor { return &Redactor{} }

// Add registers secret values in every form they can take (see forms).
func (r *Redactor) Add(values ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	added := false
	for _, v := range values {
		for _, form := range forms(v) {
			if len(form) < minLen || r.has(form) {
				continue
			}
			r.secrets = append(r.secrets, form)
			added = true
		}
	}
	if !added {
		return // credentials are registered again on every read
	}
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	pairs := make([]string, 0, 2*len(r.secrets))
	heads := map[string][]string{}
	for _, s := range r.secrets {
		pairs = append(pairs, s, Mask)
		if len(s) > PrefixLen {
			heads[s[:PrefixLen]] = append(heads[s[:PrefixLen]], s)
		}
	}
	r.repl = strings.NewReplacer(pairs...)
	r.heads = heads
}

// AddPair registers a principal and the secret used with it in HTTP Basic
// authentication (Proofpoint's service principal and secret): both values,
// "principal:secret", and its base64 encodings (the Authorization header's
// and the other alphabets), each in every form. Base64 hides the secret
// from a match on the secret alone, hence this call.
func (r *Redactor) AddPair(principal, secret string) {
	pair := principal + ":" + secret
	values := []string{principal, secret, pair}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		values = append(values, enc.EncodeToString([]byte(pair)))
	}
	r.Add(values...)
}

// AddBasic is AddPair, for callers written before it.
func (r *Redactor) AddBasic(user, password string) { r.AddPair(user, password) }

// forms lists v as it can come back: as is; JSON-escaped the ways encoders
// do it (minimal, "\/" for '/', Go's \u003c for <>&, \uXXXX for non-ASCII
// as Python's json.dumps does), URL-encoded (query strings, proxy
// userinfo) and base64-encoded.
func forms(v string) []string {
	out := []string{v}
	add := func(f string) {
		for _, x := range out {
			if x == f {
				return
			}
		}
		out = append(out, f)
	}
	for _, html := range []bool{false, true} {
		for _, ascii := range []bool{false, true} {
			j := jsonEscape(v, html, ascii)
			add(j)
			add(strings.ReplaceAll(j, "/", `\/`))
		}
	}
	add(url.QueryEscape(v))
	add(url.PathEscape(v))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding} {
		b := enc.EncodeToString([]byte(v))
		add(b)
		add(strings.ReplaceAll(b, "/", `\/`))
	}
	return out
}

// jsonEscape returns the inside of the JSON string for s: quotes,
// backslashes and control characters escaped; with html also <, >, & and
// U+2028/U+2029 (as encoding/json does); with ascii every non-ASCII
// character as \uXXXX (as Python's json.dumps does).
func jsonEscape(s string, html, ascii bool) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	u := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20, html && (r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029):
			u(r)
		case ascii && r >= utf8.RuneSelf:
			if r > 0xFFFF {
				r -= 0x10000
				u(0xD800 + r>>10)
				u(0xDC00 + r&0x3FF)
			} else {
				u(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (r *Redactor) has(s string) bool {
	for _, x := range r.secrets {
		if x == s {
			return true
		}
	}
	return false
}

// String returns s with every registered secret masked, whole or cut
// short to PrefixLen bytes or more.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	repl, heads := r.repl, r.heads
	r.mu.RUnlock()
	if repl == nil {
		return s
	}
	return maskPrefixes(repl.Replace(s), heads)
}

// maskPrefixes masks what whole-value replacement left: starts of secrets
// of PrefixLen bytes or more, each extended as far as it matches.
func maskPrefixes(s string, heads map[string][]string) string {
	if len(s) < PrefixLen || len(heads) == 0 {
		return s
	}
	type span struct{ from, to int }
	var spans []span
	for head, full := range heads {
		for off := 0; ; {
			i := strings.Index(s[off:], head)
			if i < 0 {
				break
			}
			i += off
			end := i + PrefixLen
			for _, f := range full {
				n := PrefixLen
				for n < len(f) && i+n < len(s) && s[i+n] == f[n] {
					n++
				}
				end = max(end, i+n)
			}
			spans = append(spans, span{i, end})
			off = end
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].from < spans[b].from })
	var b strings.Builder
	last, masked := 0, false
	for _, sp := range spans {
		if masked && sp.from <= last {
			// Overlapping or adjacent: extend the mask already written.
			last = max(last, sp.to)
			continue
		}
		b.WriteString(s[last:sp.from])
		b.WriteString(Mask)
		last, masked = sp.to, true
	}
	b.WriteString(s[last:])
	return b.String()
}

// Error wraps err so that its message is redacted while errors.Is and
// errors.As still see the original chain.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: r.String(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
