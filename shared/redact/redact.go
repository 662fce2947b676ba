// Package redact removes known secret values from text before it is logged,
// put in an error event, or returned in an error.
//
// Matching on the values themselves (not on header names) also catches a
// secret that a vendor echoes back in an error body or that a proxy URL
// carries as userinfo.
package redact

import (
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Mask replaces every secret value.
const Mask = "[REDACTED]"

// minLen keeps short, common strings (a one-letter password, "test") from
// mangling unrelated text; such values are weak secrets anyway.
const minLen = 4

// Redactor holds the secret values of one process. It is safe for
// concurrent use. The zero value redacts nothing until secrets are added.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // longest first, so a secret containing another is masked whole
	repl    *strings.Replacer
}

// New returns an empty Redactor.
func New() *Redactor { return &Redactor{} }

// Add registers secret values. Each value is also registered in the forms
// it can take on the wire: URL-escaped (query strings, proxy userinfo) and,
// for user:password pairs, base64 (HTTP Basic).
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
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Mask)
	}
	r.repl = strings.NewReplacer(pairs...)
}

// AddBasic registers an HTTP Basic credential pair, including its base64
// header form.
func (r *Redactor) AddBasic(user, password string) {
	r.Add(user, password, base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

func forms(v string) []string {
	out := []string{v}
	if q := url.QueryEscape(v); q != v {
		out = append(out, q)
	}
	if p := url.PathEscape(v); p != v {
		out = append(out, p)
	}
	return out
}

func (r *Redactor) has(s string) bool {
	for _, x := range r.secrets {
		if x == s {
			return true
		}
	}
	return false
}

// String returns s with every registered secret masked.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	repl := r.repl
	r.mu.RUnlock()
	if repl == nil {
		return s
	}
	return repl.Replace(s)
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
