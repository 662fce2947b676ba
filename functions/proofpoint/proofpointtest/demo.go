package proofpointtest

import "time"

// Demo is a running simulator with a tenant and realistic data, for
// `localrun demo` and examples.
type Demo struct {
	Server *Server
	// URL is the base URL (http://127.0.0.1:port).
	URL string
	// Principal and Secret are the tenant's credentials.
	Principal, Secret string
}

// Close stops the simulator.
func (d *Demo) Close() { d.Server.Close() }

// StartDemo starts a simulator on loopback, on the real clock, holding a
// day of traffic for tenant up to an hour from now: events keep being
// indexed while the demo runs, some with up to 30 minutes' lag, a fifth
// of the messages go to several recipients and some clicks are
// retroactive. It also holds a few Very Attacked People and top clickers.
func StartDemo(tenant string) *Demo {
	srv := New(Options{})
	cred := srv.AddTenant(tenant, Tenant{})
	now := time.Now().UTC()
	srv.Generate(tenant, Traffic{From: now.Add(-24 * time.Hour), To: now.Add(time.Hour), MessagesPerHour: 6, ClicksPerHour: 2, Seed: 1})
	srv.GeneratePeople(tenant, 5, 3, 1)
	return &Demo{Server: srv, URL: srv.URL, Principal: cred.Principal, Secret: cred.Secret}
}
