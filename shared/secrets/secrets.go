// Package secrets resolves vendor credentials without ever printing them.
//
// A vendor's credential set is a small map named by the fields of its
// Secrets Manager JSON ("bearer_token", "principal", "api_key", …). On a host
// the same fields come from systemd credentials, a secrets file or the
// environment; in Lambda they come from one Secrets Manager secret per vendor
// and tenant. Collectors only see a Source.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Credentials maps credential field names to values.
type Credentials map[string]string

// Require returns an error naming every missing field (never a value).
func (c Credentials) Require(fields ...string) error {
	var missing []string
	for _, f := range fields {
		if c[f] == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("%w: %v", ErrMissing, missing)
}

// Values lists the credential values, for registering with a redactor.
func (c Credentials) Values() []string {
	out := make([]string, 0, len(c))
	for _, v := range c {
		out = append(out, v)
	}
	return out
}

// ErrMissing reports required credential fields that no source provides.
var ErrMissing = errors.New("secrets: missing credential")

// Source provides the current credentials of one vendor tenant.
type Source interface {
	// Get returns the credentials, from a cache when it is still fresh.
	Get(ctx context.Context) (Credentials, error)
	// Invalidate drops any cached value, so that the next Get reads the
	// backing store again (called after the vendor answered 401, in case
	// the secret was rotated).
	Invalidate()
}

// Static is a Source with fixed credentials (multi-tenant token files, tests).
type Static Credentials

// Get returns the fixed credentials.
func (s Static) Get(context.Context) (Credentials, error) { return Credentials(s), nil }

// Invalidate does nothing: there is nothing to re-read.
func (s Static) Invalidate() {}
