package cortexxdr

import (
	"context"
	"errors"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// CheckReport is what `localrun check cortexxdr` prints for one tenant.
// It holds no secret: the FQDN, key id and security level are public.
type CheckReport struct {
	Tenant        string
	FQDN          string // normalised tenant host ("" if the credentials are unusable)
	APIURL        string // where requests go
	KeyID         string
	SecurityLevel string
	// ClockSkew is the API's clock minus this host's, as its Date header
	// tells (0: within the header's one-second precision, or unknown).
	ClockSkew time.Duration
	// Err is a problem found before any request (missing or invalid
	// credentials, a bad URL); Streams is then empty.
	Err     error
	Streams []StreamCheck
}

// StreamCheck is the verdict on one stream's endpoint.
type StreamCheck struct {
	Name     string
	Endpoint string
	OK       bool
	// Code is the error code of a failure (API_HTTP_401, …) and Problem
	// says what to check: the key, the clock, the FQDN, the licence (402)
	// or the key's role (403).
	Code    string
	Problem string
	// Recent counts the stream's records of the last hour (at most the
	// API's cap), when the call succeeded.
	Recent int
}

// OK reports whether every stream can be collected.
func (r *CheckReport) OK() bool {
	if r.Err != nil || len(r.Streams) == 0 {
		return false
	}
	for _, s := range r.Streams {
		if !s.OK {
			return false
		}
	}
	return true
}

// Check asks each stream's endpoint for one record of the last hour: it
// proves the key (and, for an advanced key, this host's clock), the FQDN,
// the tenant's licence and the key's role for that API, without
// collecting anything.
func (c *Collector) Check(ctx context.Context) *CheckReport {
	rep := &CheckReport{Tenant: c.tenant}
	cr, err := c.credentials(ctx)
	if err != nil {
		rep.Err = err
		return rep
	}
	rep.FQDN, rep.KeyID, rep.SecurityLevel = cr.fqdn, cr.keyID, cr.level()
	if rep.APIURL, err = c.apiURL(cr); err != nil {
		rep.Err = err
		return rep
	}
	now := c.cfg.Now()
	for _, def := range Streams() {
		sc := StreamCheck{Name: def.Name, Endpoint: def.Path}
		src := &Source{c: c, def: def, dec: newDecoder(def), pageSize: 1}
		r, err := src.query(ctx, now.Add(-time.Hour).UnixMilli(), now.UnixMilli(), 0)
		if err != nil {
			sc.Code = pipeline.CodeOf(err)
			var pe *pipeline.Error
			if errors.As(err, &pe) {
				sc.Problem = pe.Message
			} else {
				sc.Problem = err.Error()
			}
		} else {
			sc.OK = true
			sc.Recent = max(r.total, len(r.items))
		}
		rep.Streams = append(rep.Streams, sc)
	}
	rep.ClockSkew = c.ClockSkew()
	return rep
}
