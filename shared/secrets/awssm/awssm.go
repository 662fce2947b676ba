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
// Each secret costs a monthly fee, so two other layouts group credentials
// (Layout): one secret per tenant, "<prefix>/tenants/<tenant>", holding
// every vendor's credentials of that tenant as members
// ({"1password":{"bearer_token":"…"},"proofpoint":{…}}), and one secret
// per vendor, "<prefix>/<vendor>", holding every tenant's
// ({"acme":{"bearer_token":"…"},"globex":{…}}). A Source reads such a
// bundle once for all its members (Options.Bundle, Source.Member).
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

// Layout says how tenants' credentials are spread over secrets.
type Layout string

// Layouts.
const (
	// LayoutTenantVendor is one secret per tenant and vendor,
	// "<prefix>/<vendor>/<tenant>" (the default): the finest IAM scope.
	LayoutTenantVendor Layout = "tenant-vendor"
	// LayoutTenant is one secret per tenant, "<prefix>/tenants/<tenant>",
	// with one member per vendor.
	LayoutTenant Layout = "tenant"
	// LayoutVendor is one secret per vendor, "<prefix>/<vendor>", with one
	// member per tenant.
	LayoutVendor Layout = "vendor"
)

// TenantsPath is the path element of per-tenant secrets
// ("<prefix>/tenants/<tenant>"); no vendor may be named so.
const TenantsPath = "tenants"

// Layouts lists the layouts, default first.
func Layouts() []Layout { return []Layout{LayoutTenantVendor, LayoutTenant, LayoutVendor} }

// ParseLayout reads a layout name; "" is the default.
func ParseLayout(s string) (Layout, error) {
	if s == "" {
		return LayoutTenantVendor, nil
	}
	for _, l := range Layouts() {
		if string(l) == s {
			return l, nil
		}
	}
	return LayoutTenantVendor, fmt.Errorf("%q is not one of %s, %s or %s", s, LayoutTenantVendor, LayoutTenant, LayoutVendor)
}

// Locate returns the secret holding a tenant's credentials for a vendor,
// and the member of its JSON that holds them ("" when the whole secret
// does). An empty prefix means DefaultPrefix.
func (l Layout) Locate(prefix, vendor, tenant string) (secretID, member string) {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		prefix = DefaultPrefix
	}
	switch l {
	case LayoutTenant:
		return prefix + "/" + TenantsPath + "/" + tenant, vendor
	case LayoutVendor:
		return prefix + "/" + vendor, tenant
	}
	return SecretID(prefix, vendor, tenant), ""
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
	// Bundle says the secret is a JSON object of members, each a JSON
	// object of string fields; read them with Member.
	Bundle bool
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
	bundle   bool

	// fetch is a one-slot semaphore held during GetSecretValue; unlike a
	// mutex, waiting for it respects the caller's context.
	fetch chan struct{}

	mu sync.Mutex
	// cached maps members to their fields; a plain secret is member "".
	// nil when empty.
	cached    map[string]secrets.Credentials
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
		bundle:   opts.Bundle,
		fetch:    make(chan struct{}, 1),
	}
}

// SecretID returns the secret this source reads.
func (s *Source) SecretID() string { return s.secretID }

// TTL returns the effective cache lifetime.
func (s *Source) TTL() time.Duration { return s.ttl }

// Get returns the credentials, from the cache while it is fresh. A
// bundle has no credentials of its own: read its members with Member.
func (s *Source) Get(ctx context.Context) (secrets.Credentials, error) {
	if s.bundle {
		return nil, fmt.Errorf("%w %s: the secret holds one member per tenant or vendor; read a member", ErrMalformed, s.secretID)
	}
	return s.member(ctx, "")
}

// member returns one member's fields ("" for a plain secret).
func (s *Source) member(ctx context.Context, name string) (secrets.Credentials, error) {
	all, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	c, ok := all[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no member %q; want {%q: {<credential fields>}, …}", ErrNotFound, s.secretID, name, name)
	}
	return clone(c), nil
}

func (s *Source) get(ctx context.Context) (map[string]secrets.Credentials, error) {
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

	all, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	// Every member's values are registered, not only those of the members
	// this process uses: they are all in its memory now.
	for _, creds := range all {
		for field, v := range creds {
			if !slices.Contains(s.public, field) {
				s.redactor.Add(v)
			}
		}
	}

	s.mu.Lock()
	// A value whose read began before an Invalidate may predate a
	// rotation: hand it to this caller, but do not keep it.
	if s.gen == gen {
		s.cached = all
		s.fetchedAt = s.now()
	}
	s.mu.Unlock()
	return all, nil
}

func (s *Source) fresh() (map[string]secrets.Credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached == nil || !s.now().Before(s.fetchedAt.Add(s.ttl)) {
		return nil, false
	}
	return s.cached, true
}

// Invalidate drops the cached value, so that the next Get reads the secret
// again.
func (s *Source) Invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cached = nil
	s.gen++
}

// Member is the credentials in one member of a bundle secret. It is a
// secrets.Source; all members of a Source share its cache, so one read
// serves every tenant (or vendor) in the secret.
type Member struct {
	src  *Source
	name string
}

var _ secrets.Source = (*Member)(nil)

// Member returns the named member of a bundle (Options.Bundle).
func (s *Source) Member(name string) *Member { return &Member{src: s, name: name} }

// Get returns the member's fields.
func (m *Member) Get(ctx context.Context) (secrets.Credentials, error) {
	if !m.src.bundle {
		return nil, fmt.Errorf("awssm: %s is not read as a bundle; it has no members", m.src.secretID)
	}
	return m.src.member(ctx, m.name)
}

// Invalidate drops the whole secret's cache: a rotation of one member is
// a new version of the secret.
func (m *Member) Invalidate() { m.src.Invalidate() }

// SecretID returns the secret holding the member.
func (m *Member) SecretID() string { return m.src.secretID }

// Name returns the member's name.
func (m *Member) Name() string { return m.name }

// clone keeps callers from editing the cached map.
func clone(c secrets.Credentials) secrets.Credentials {
	out := make(secrets.Credentials, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

func (s *Source) read(ctx context.Context) (map[string]secrets.Credentials, error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.secretID)})
	if err != nil {
		return nil, s.mapError(err)
	}
	if out.SecretString == nil {
		return nil, fmt.Errorf("%w %s: no SecretString (binary secrets are not supported)", ErrMalformed, s.secretID)
	}
	if s.bundle {
		return parseBundle(s.secretID, *out.SecretString)
	}
	c, err := parse(s.secretID, *out.SecretString)
	if err != nil {
		return nil, err
	}
	return map[string]secrets.Credentials{"": c}, nil
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

// parseBundle decodes a SecretString holding members, each an object of
// string fields. Like parse, its errors name members, fields and JSON
// types, never a value.
func parseBundle(secretID, text string) (map[string]secrets.Credentials, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &members); err != nil || members == nil {
		if _, perr := parse(secretID, text); perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("%w %s: the JSON is null; want an object of members", ErrMalformed, secretID)
	}
	out := make(map[string]secrets.Credentials, len(members))
	var bad []string
	for name, raw := range members {
		if kind := jsonKind(raw); kind != "object" {
			bad = append(bad, fmt.Sprintf("member %q is a JSON %s, want an object of string fields", name, kind))
			continue
		}
		c, err := parse(secretID, string(raw))
		if err != nil {
			// parse names the fields; say which member they are in.
			bad = append(bad, fmt.Sprintf("member %q: %s", name, strings.TrimPrefix(err.Error(), ErrMalformed.Error()+" "+secretID+": ")))
			continue
		}
		out[name] = c
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, fmt.Errorf("%w %s: %s", ErrMalformed, secretID, strings.Join(bad, "; "))
	}
	return out, nil
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
