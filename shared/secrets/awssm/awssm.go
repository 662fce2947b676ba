// Package awssm reads vendor credentials from AWS Secrets Manager.
//
// Each vendor and tenant has one secret, named SecretID(prefix, vendor,
// tenant) = "<prefix>/<vendor>/<tenant>" (prefix "wazuh-pull" by default,
// e.g. "wazuh-pull/1password/acme"), whose SecretString is a JSON object of
// string fields:
//
//	1Password   {"bearer_token":"…","base_url":"https://events.1password.eu"}  (base_url optional)
//	Proofpoint  {"principal":"…","secret":"…"}
//	Cortex XDR  {"fqdn":"…","api_key_id":"…","api_key":"…","security_level":"advanced"}
//
// The naming pattern lets an IAM policy grant each function only
// secretsmanager:GetSecretValue on "<prefix>/<its vendor>/*".
//
// A Source caches the secret for at most 15 minutes, so a rotated secret is
// picked up without a redeploy, and re-reads it at once after Invalidate
// (called when the vendor answers 401). Errors name the secret and field
// names, never a value, and every value read is registered with the
// Redactor before Get returns it.
package awssm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/secrets"
)

// DefaultPrefix is the first component of secret names.
const DefaultPrefix = "wazuh-pull"

// MaxTTL is the longest a secret is cached; longer TTLs are clamped to it,
// so a rotation reaches every function within this time.
const MaxTTL = 15 * time.Minute

// Errors callers can test with errors.Is. Messages never contain a value.
var (
	// ErrNotFound means the secret does not exist (or is scheduled for
	// deletion).
	ErrNotFound = errors.New("awssm: secret not found")
	// ErrAccessDenied means the caller's role may not read the secret or
	// decrypt it with its KMS key.
	ErrAccessDenied = errors.New("awssm: access denied to secret")
	// ErrMalformed means the secret is not a JSON object of string fields.
	ErrMalformed = errors.New("awssm: malformed secret")
)

// SecretID returns "<prefix>/<vendor>/<tenant>", the name of the secret
// holding one tenant's credentials for one vendor. An empty prefix means
// DefaultPrefix.
func SecretID(prefix, vendor, tenant string) string {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + "/" + vendor + "/" + tenant
}

// Options configure a Source.
type Options struct {
	// TTL is how long a read secret is reused: 0 means MaxTTL, and values
	// above MaxTTL are clamped to it.
	TTL time.Duration
	// Now replaces time.Now, for tests.
	Now func() time.Time
	// Redactor, if set, learns every value read before Get returns it,
	// except the fields named in Public.
	Redactor *redact.Redactor
	// Public names fields that are configuration, not secrets (a base URL,
	// an FQDN, a security level): masking them would only blank useful
	// context out of every log line.
	Public []string
}

// Source is a secrets.Source backed by one Secrets Manager secret. It is
// safe for concurrent use; concurrent Gets on an empty cache share one
// GetSecretValue call.
type Source struct {
	client   *secretsmanager.Client
	secretID string
	ttl      time.Duration
	now      func() time.Time
	redactor *redact.Redactor
	public   []string

	// fetch is a one-slot semaphore held during GetSecretValue; unlike a
	// mutex, waiting for it respects the caller's context.
	fetch chan struct{}

	mu        sync.Mutex
	cached    secrets.Credentials // nil when empty
	fetchedAt time.Time
	gen       uint64 // counts Invalidate calls
}

var _ secrets.Source = (*Source)(nil)

// New returns a Source for secretID (a name or ARN).
func New(client *secretsmanager.Client, secretID string, opts Options) *Source {
	ttl := opts.TTL
	if ttl <= 0 || ttl > MaxTTL {
		ttl = MaxTTL
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Source{
		client:   client,
		secretID: secretID,
		ttl:      ttl,
		now:      now,
		redactor: opts.Redactor,
		public:   opts.Public,
		fetch:    make(chan struct{}, 1),
	}
}

// SecretID returns the secret this source reads.
func (s *Source) SecretID() string { return s.secretID }

// TTL returns the effective cache lifetime.
func (s *Source) TTL() time.Duration { return s.ttl }

// Get returns the credentials, from the cache while it is fresh.
func (s *Source) Get(ctx context.Context) (secrets.Credentials, error) {
	if c, ok := s.fresh(); ok {
		return c, nil
	}
	select {
	case s.fetch <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("awssm: waiting to read secret %s: %w", s.secretID, ctx.Err())
	}
	defer func() { <-s.fetch }()
	// Another caller may have refreshed the cache while this one waited.
	if c, ok := s.fresh(); ok {
		return c, nil
	}
	s.mu.Lock()
	gen := s.gen
	s.mu.Unlock()

	creds, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	for field, v := range creds {
		if !slices.Contains(s.public, field) {
			s.redactor.Add(v)
		}
	}

	s.mu.Lock()
	// A value whose read began before an Invalidate may predate a
	// rotation: hand it to this caller, but do not keep it.
	if s.gen == gen {
		s.cached = creds
		s.fetchedAt = s.now()
	}
	s.mu.Unlock()
	return clone(creds), nil
}

func (s *Source) fresh() (secrets.Credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached == nil || !s.now().Before(s.fetchedAt.Add(s.ttl)) {
		return nil, false
	}
	return clone(s.cached), true
}

// Invalidate drops the cached value, so that the next Get reads the secret
// again.
func (s *Source) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cached = nil
	s.gen++
}

// clone keeps callers from editing the cached map.
func clone(c secrets.Credentials) secrets.Credentials {
	out := make(secrets.Credentials, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

func (s *Source) read(ctx context.Context) (secrets.Credentials, error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.secretID)})
	if err != nil {
		return nil, s.mapError(err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("%w %s: no SecretString (binary secrets are not supported)", ErrMalformed, s.secretID)
	}
	return parse(s.secretID, *out.SecretString)
}

func (s *Source) mapError(err error) error {
	var notFound *types.ResourceNotFoundException
	var invalid *types.InvalidRequestException
	var decrypt *types.DecryptionFailure
	var api smithy.APIError
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %s (%w)", ErrNotFound, s.secretID, err)
	case errors.As(err, &invalid):
		// Secrets Manager answers InvalidRequest for a secret that is
		// scheduled for deletion: to a reader it is gone.
		return fmt.Errorf("%w: %s, or not readable (%w)", ErrNotFound, s.secretID, err)
	case errors.As(err, &decrypt):
		return fmt.Errorf("%w %s: cannot decrypt it with its KMS key (%w)", ErrAccessDenied, s.secretID, err)
	case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException":
		return fmt.Errorf("%w %s (%w)", ErrAccessDenied, s.secretID, err)
	}
	return fmt.Errorf("awssm: read secret %s: %w", s.secretID, err)
}

// parse decodes a SecretString. Its errors describe the shape of the
// secret (offsets, field names, JSON types) but never include any of its
// text: a secret pasted in the wrong format is still a secret.
func parse(secretID, text string) (secrets.Credentials, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &fields); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("%w %s: invalid JSON at byte %d of %d; want a JSON object of string fields", ErrMalformed, secretID, syntax.Offset, len(text))
		case errors.As(err, &typ):
			return nil, fmt.Errorf("%w %s: the JSON is a %s; want an object of string fields", ErrMalformed, secretID, typ.Value)
		}
		return nil, fmt.Errorf("%w %s: not a JSON object (%d bytes)", ErrMalformed, secretID, len(text))
	}
	if fields == nil {
		return nil, fmt.Errorf("%w %s: the JSON is null; want an object of string fields", ErrMalformed, secretID)
	}
	creds := make(secrets.Credentials, len(fields))
	var bad []string
	for name, raw := range fields {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil || strings.TrimSpace(string(raw)) == "null" {
			bad = append(bad, fmt.Sprintf("%q (%s)", name, jsonKind(raw)))
			continue
		}
		creds[name] = v
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("%w %s: fields must be strings: %s", ErrMalformed, secretID, strings.Join(bad, ", "))
	}
	return creds, nil
}

// jsonKind names a JSON value's type without showing the value.
func jsonKind(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "empty"
	}
	switch s[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '"':
		return "string"
	}
	return "number"
}
