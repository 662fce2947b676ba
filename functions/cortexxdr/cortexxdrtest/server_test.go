package cortexxdrtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const fqdn = "acme.xdr.us.paloaltonetworks.com"

var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// client signs requests as the vendor documents it, written here from the
// documentation rather than taken from the collector.
type client struct {
	t      *testing.T
	srv    *Server
	host   string
	id     string
	secret string
	std    bool
	now    func() time.Time
	n      int
}

func newSim(t *testing.T, opts Options, tn Tenant, k Key) (*Server, *client, *Clock) {
	t.Helper()
	clock := NewClock(t0)
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	srv := New(opts)
	t.Cleanup(srv.Close)
	srv.AddTenant(fqdn, tn)
	id, secret := srv.AddKey(fqdn, k)
	return srv, &client{t: t, srv: srv, host: "api-" + fqdn, id: id, secret: secret, std: k.Standard, now: clock.Now}, clock
}

func (c *client) headers() http.Header {
	h := http.Header{"Content-Type": {"application/json"}, "X-Xdr-Auth-Id": {c.id}}
	if c.std {
		h.Set("Authorization", c.secret)
		return h
	}
	c.n++
	nonce := fmt.Sprintf("%064d", c.n)
	ts := strconv.FormatInt(c.now().UnixMilli(), 10)
	sum := sha256.Sum256([]byte(c.secret + nonce + ts))
	h.Set("X-Xdr-Nonce", nonce)
	h.Set("X-Xdr-Timestamp", ts)
	h.Set("Authorization", hex.EncodeToString(sum[:]))
	return h
}

type reply struct {
	status int
	header http.Header
	body   []byte
	Reply  struct {
		Total     int               `json:"total_count"`
		Result    int               `json:"result_count"`
		Alerts    []json.RawMessage `json:"alerts"`
		Incidents []json.RawMessage `json:"incidents"`
		ErrCode   int               `json:"err_code"`
		ErrMsg    string            `json:"err_msg"`
	} `json:"reply"`
}

func (c *client) post(path, body string, h http.Header) *reply {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.srv.URL+path, strings.NewReader(body))
	req.Header = h
	req.Host = c.host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	r := &reply{status: resp.StatusCode, header: resp.Header}
	r.body, _ = io.ReadAll(resp.Body)
	json.Unmarshal(r.body, r)
	return r
}

func (c *client) alerts(body string) *reply { return c.post(PathAlerts, body, c.headers()) }

func window(from, to time.Time, offset, size int, sort string) string {
	return fmt.Sprintf(`{"request_data":{"filters":[{"field":"server_creation_time","operator":"gte","value":%d},{"field":"server_creation_time","operator":"lte","value":%d}],"search_from":%d,"search_to":%d,"sort":{"field":%q,"keyword":"asc"}}}`,
		from.UnixMilli(), to.UnixMilli(), offset, offset+size, sort)
}

func TestAdvancedKeySignatureIsCheckedOnEveryRequest(t *testing.T) {
	srv, c, clock := newSim(t, Options{}, Tenant{}, Key{})
	body := `{"request_data":{}}`
	if r := c.alerts(body); r.status != 200 {
		t.Fatalf("signed request answered %d %s", r.status, r.body)
	}
	h := c.headers()
	if r := c.post(PathAlerts, body, h); r.status != 200 {
		t.Fatalf("fresh nonce answered %d", r.status)
	}
	if r := c.post(PathAlerts, body, h); r.status != 401 || r.Reply.ErrMsg != "Public API request unauthorized" || r.Reply.ErrCode != 401 {
		t.Fatalf("replayed nonce answered %d %s", r.status, r.body)
	}
	stale := c.headers()
	clock.Advance(6 * time.Minute)
	if r := c.post(PathAlerts, body, stale); r.status != 401 {
		t.Fatalf("six-minute-old timestamp answered %d", r.status)
	}
	wrong := c.headers()
	wrong.Set("Authorization", strings.Repeat("0", 64))
	if r := c.post(PathAlerts, body, wrong); r.status != 401 {
		t.Fatalf("wrong hash answered %d", r.status)
	}
	short := c.headers()
	short.Set("X-Xdr-Nonce", "abc")
	if r := c.post(PathAlerts, body, short); r.status != 401 {
		t.Fatalf("short nonce answered %d", r.status)
	}
	plain := c.headers()
	plain.Set("Authorization", c.secret) // a standard-key request to an advanced key
	if r := c.post(PathAlerts, body, plain); r.status != 401 {
		t.Fatalf("unsigned key answered %d", r.status)
	}
	for _, r := range srv.Requests() {
		if strings.Contains(fmt.Sprintf("%+v", r), c.secret) {
			t.Fatal("the request log holds the key")
		}
	}
}

func TestStandardKeyAndRouting(t *testing.T) {
	_, c, _ := newSim(t, Options{}, Tenant{}, Key{Standard: true})
	if r := c.alerts(`{"request_data":{}}`); r.status != 200 {
		t.Fatalf("standard key answered %d", r.status)
	}
	c.secret = "wrong"
	if r := c.alerts(`{"request_data":{}}`); r.status != 401 {
		t.Fatalf("wrong standard key answered %d", r.status)
	}
	c.host = "api-other.xdr.us.paloaltonetworks.com"
	if r := c.alerts(`{"request_data":{}}`); r.status != 404 {
		t.Fatalf("unknown tenant host answered %d", r.status)
	}
	c.host = fqdn // without the api- prefix
	if r := c.alerts(`{"request_data":{}}`); r.status != 404 {
		t.Fatalf("host without api- answered %d", r.status)
	}
}

func TestRequestValidationIsStrict(t *testing.T) {
	_, c, _ := newSim(t, Options{RateLimit: -1}, Tenant{}, Key{})
	now := t0.Add(-time.Minute)
	for body, status := range map[string]int{
		`{}`:                                 400,
		`{"request_data":{},"extra":1}`:      400,
		`{"request_data":{"search_to":101}}`: 400,
		`{"request_data":{"search_from":5,"search_to":4}}`:                                        400,
		`{"request_data":{"sort":{"field":"server_creation_time","keyword":"asc"}}}`:              400,
		`{"request_data":{"sort":{"field":"creation_time","keyword":"up"}}}`:                      400,
		`{"request_data":{"filters":[{"field":"modification_time","operator":"gte","value":1}]}}`: 400,
		`{"request_data":{"filters":[{"field":"creation_time","operator":"eq","value":1}]}}`:      400,
		`{"request_data":{"filters":[{"field":"creation_time","operator":"gte","value":"1"}]}}`:   400,
		`{"request_data":{"filters":[{"field":"creation_time","operator":"gte","value":0}]}}`:     500,
		window(now.Add(-time.Hour), now, 0, 100, "creation_time"):                                 200,
		`{"request_data":{"sort":{"field":"severity","keyword":"DESC"},"search_to":100}}`:         200,
	} {
		if r := c.alerts(body); r.status != status {
			t.Errorf("%s answered %d (%s), want %d", body, r.status, r.Reply.ErrMsg, status)
		}
	}
	h := c.headers()
	h.Del("Content-Type")
	if r := c.post(PathAlerts, `{"request_data":{}}`, h); r.status != 400 {
		t.Errorf("no Content-Type answered %d", r.status)
	}
	if r := c.post("/public_api/v1/alerts/get_alerts", `{"request_data":{}}`, c.headers()); r.status != 404 {
		t.Errorf("unknown path answered %d", r.status)
	}
}

func TestAlertsAreServedByInsertionTimeWhenVisible(t *testing.T) {
	srv, c, clock := newSim(t, Options{}, Tenant{Compact: true}, Key{})
	late := srv.AddAlert(fqdn, AlertSpec{Inserted: t0.Add(-10 * time.Second), Detected: t0.Add(-5 * time.Hour), Lag: 30 * time.Second})
	srv.AddAlert(fqdn, AlertSpec{Inserted: t0.Add(-2 * time.Hour)})
	// A creation_time filter from an hour ago misses the late upload; a
	// server_creation_time filter finds it, once it is visible.
	byCreation := fmt.Sprintf(`{"request_data":{"filters":[{"field":"creation_time","operator":"gte","value":%d}]}}`, t0.Add(-time.Hour).UnixMilli())
	byInsertion := window(t0.Add(-time.Hour), t0, 0, 100, "creation_time")
	if r := c.alerts(byInsertion); r.Reply.Total != 0 {
		t.Fatalf("alert visible before its lag: %s", r.body)
	}
	clock.Advance(31 * time.Second)
	if r := c.alerts(byCreation); r.Reply.Total != 0 {
		t.Fatalf("creation_time filter found the late upload: %s", r.body)
	}
	r := c.alerts(byInsertion)
	if r.Reply.Total != 1 || !bytes.Contains(r.Reply.Alerts[0], []byte(`"alert_id":"`+late+`"`)) {
		t.Fatalf("late upload not served by insertion time: %s", r.body)
	}
	if d, err := http.ParseTime(r.header.Get("Date")); err != nil || !d.Equal(clock.Now().Truncate(time.Second)) {
		t.Fatalf("Date %q does not follow the clock", r.header.Get("Date"))
	}
}

func TestPagingTiesCapAndBurst(t *testing.T) {
	srv, c, _ := newSim(t, Options{ResultCap: 250}, Tenant{Compact: true}, Key{})
	at := t0.Add(-time.Hour)
	var specs []AlertSpec
	for i := 0; i < 300; i++ {
		specs = append(specs, AlertSpec{Inserted: at, Detected: at.Add(-time.Second)}) // one millisecond, one creation_time
	}
	ids := srv.AddAlerts(fqdn, specs)
	seen := map[string]int{}
	for off := 0; ; off += 100 {
		r := c.alerts(window(at, at, off, 100, "creation_time"))
		if r.Reply.Total != 250 {
			t.Fatalf("total_count %d, want the cap", r.Reply.Total)
		}
		if len(r.Reply.Alerts) == 0 {
			break
		}
		for _, a := range r.Reply.Alerts {
			var v struct {
				ID string `json:"alert_id"`
			}
			json.Unmarshal(a, &v)
			seen[v.ID]++
		}
	}
	// Ties are served in one stable order; nothing past the cap.
	if len(seen) != 250 {
		t.Fatalf("paged %d distinct alerts", len(seen))
	}
	for _, id := range ids[:250] {
		if seen[id] != 1 {
			t.Fatalf("alert %s served %d times", id, seen[id])
		}
	}
}

func TestIncidentsServeTheirVisibleState(t *testing.T) {
	srv, c, clock := newSim(t, Options{}, Tenant{}, Key{})
	id := srv.AddIncident(fqdn, IncidentSpec{Created: t0.Add(-time.Hour)})
	srv.ChangeIncident(fqdn, id, IncidentChange{At: t0.Add(time.Minute), Lag: time.Minute, Status: "resolved_other"})
	q := fmt.Sprintf(`{"request_data":{"filters":[{"field":"modification_time","operator":"gte","value":%d}],"sort":{"field":"modification_time","keyword":"asc"}}}`, t0.Add(-2*time.Hour).UnixMilli())
	get := func() string {
		r := c.post(PathIncidents, q, c.headers())
		if r.status != 200 || len(r.Reply.Incidents) != 1 {
			t.Fatalf("incidents %d %s", r.status, r.body)
		}
		var v struct{ Status string }
		json.Unmarshal(r.Reply.Incidents[0], &v)
		return v.Status
	}
	if s := get(); s != "new" {
		t.Fatalf("status %s before the change", s)
	}
	clock.Advance(90 * time.Second) // changed, not yet visible
	if s := get(); s != "new" {
		t.Fatalf("status %s before the change is visible", s)
	}
	clock.Advance(time.Minute)
	if s := get(); s != "resolved_other" {
		t.Fatalf("status %s after the change", s)
	}
	if vs := srv.IncidentVersions(fqdn); len(vs) != 2 || vs[1].Key() != id+":"+strconv.FormatInt(t0.Add(time.Minute).UnixMilli(), 10) {
		t.Fatalf("versions %+v", vs)
	}
}

// An alert or incident given a tactic names it (and a technique of it);
// alerts of one host carry that endpoint's id.
func TestTacticsAndEndpoints(t *testing.T) {
	srv, c, _ := newSim(t, Options{}, Tenant{}, Key{})
	var specs []AlertSpec
	for i := 0; i < 40; i++ {
		specs = append(specs, AlertSpec{Inserted: t0.Add(-time.Hour + time.Duration(i)*time.Second), Tactic: "TA0040 - Impact"})
	}
	srv.AddAlerts(fqdn, specs)
	r := c.alerts(window(t0.Add(-2*time.Hour), t0, 0, 100, "creation_time"))
	if len(r.Reply.Alerts) != 40 {
		t.Fatalf("%d alerts served", len(r.Reply.Alerts))
	}
	endpoints := map[string]string{}
	for _, raw := range r.Reply.Alerts {
		var a struct {
			Host       string   `json:"host_name"`
			Endpoint   string   `json:"endpoint_id"`
			Tactics    []string `json:"mitre_tactic_id_and_name"`
			Techniques []string `json:"mitre_technique_id_and_name"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			t.Fatal(err)
		}
		for i := range a.Tactics {
			if a.Tactics[i] != "TA0040 - Impact" || a.Techniques[i] != "T1486 - Data Encrypted for Impact" {
				t.Fatalf("tactic %q technique %q", a.Tactics[i], a.Techniques[i])
			}
		}
		if prev, ok := endpoints[a.Host]; ok && prev != a.Endpoint {
			t.Fatalf("host %s has endpoint ids %s and %s", a.Host, prev, a.Endpoint)
		}
		endpoints[a.Host] = a.Endpoint
	}
	if len(endpoints) < 2 {
		t.Fatalf("all alerts on %d host", len(endpoints))
	}
	srv.AddIncident(fqdn, IncidentSpec{Created: t0.Add(-time.Hour), Tactic: "TA0004 - Privilege Escalation"})
	q := fmt.Sprintf(`{"request_data":{"filters":[{"field":"modification_time","operator":"gte","value":%d}],"sort":{"field":"modification_time","keyword":"asc"}}}`, t0.Add(-2*time.Hour).UnixMilli())
	ir := c.post(PathIncidents, q, c.headers())
	if len(ir.Reply.Incidents) != 1 || !bytes.Contains(ir.Reply.Incidents[0], []byte(`"mitre_tactics_ids_and_names":["TA0004 - Privilege Escalation"],"mitre_techniques_ids_and_names":["T1068 - Exploitation for Privilege Escalation"]`)) {
		t.Fatalf("incident %s", ir.body)
	}
	srv.AddIncident(fqdn, IncidentSpec{Created: t0.Add(-time.Hour), Unmapped: true})
	ir = c.post(PathIncidents, q, c.headers())
	if len(ir.Reply.Incidents) != 2 || !bytes.Contains(ir.Reply.Incidents[1], []byte(`"mitre_tactics_ids_and_names":[],"mitre_techniques_ids_and_names":[]`)) {
		t.Fatalf("unmapped incident %s", ir.body)
	}
}

func TestTenantRateLimitLicenceAndRole(t *testing.T) {
	srv, c, clock := newSim(t, Options{}, Tenant{Unlicensed: []string{"incidents"}}, Key{Streams: []string{"incidents"}})
	body := `{"request_data":{}}`
	if r := c.alerts(body); r.status != 403 {
		t.Fatalf("role without alerts answered %d", r.status)
	}
	if r := c.post(PathIncidents, body, c.headers()); r.status != 402 || r.Reply.ErrMsg != "Invalid license" {
		t.Fatalf("unlicensed incidents answered %d", r.status)
	}
	id2, secret2 := srv.AddKey(fqdn, Key{})
	c.id, c.secret = id2, secret2
	clock.Advance(time.Second)
	codes := []int{}
	for i := 0; i < 12; i++ {
		codes = append(codes, c.alerts(body).status)
	}
	if fmt.Sprint(codes[8:]) != "[200 200 429 429]" {
		t.Fatalf("statuses within one second %v: the limit is 10 per tenant, whatever the key", codes)
	}
	clock.Advance(time.Second)
	if r := c.alerts(body); r.status != 200 {
		t.Fatalf("next second answered %d", r.status)
	}
}

func TestFaultsFireInOrderAndCount(t *testing.T) {
	srv, c, _ := newSim(t, Options{}, Tenant{}, Key{})
	srv.Inject(Fault{Kind: FaultInternalError, Count: 2})
	srv.Inject(Fault{Kind: FaultEmptyPage, Stream: "alerts"})
	srv.AddAlert(fqdn, AlertSpec{Inserted: t0.Add(-time.Hour)})
	body := `{"request_data":{}}`
	want := []int{500, 500}
	for _, w := range want {
		if r := c.alerts(body); r.status != w || r.Reply.ErrCode != 500 {
			t.Fatalf("answered %d, want %d", r.status, w)
		}
	}
	if r := c.alerts(body); r.status != 200 || r.Reply.Total != 1 || len(r.Reply.Alerts) != 0 {
		t.Fatalf("empty-page fault: %s", r.body)
	}
	if r := c.alerts(body); len(r.Reply.Alerts) != 1 || srv.FaultsPending() != 0 || srv.FaultsFired(FaultInternalError) != 2 {
		t.Fatalf("after the faults: %s", r.body)
	}
	srv.Inject(Fault{Kind: FaultEchoHeaders, Status: 502})
	if r := c.alerts(body); r.status != 502 || !strings.Contains(r.Reply.ErrMsg, "Authorization") {
		t.Fatalf("echo fault: %d %s", r.status, r.body)
	}
	srv.Inject(Fault{Kind: FaultHTMLPage})
	if r := c.alerts(body); r.status != 200 || !bytes.HasPrefix(r.body, []byte("<!DOCTYPE html>")) {
		t.Fatalf("html fault: %s", r.body)
	}
}

// The variants of what the vendor leaves open: ties ordered differently on
// every request, records served past the 9 999 count, and another status
// for the throttle.
func TestUndocumentedVariants(t *testing.T) {
	srv, c, clock := newSim(t, Options{ResultCap: 250, ServeBeyondCap: true, UnstableTies: true, RateLimit: 2, ThrottleStatus: http.StatusForbidden}, Tenant{Compact: true}, Key{})
	at := t0.Add(-time.Hour)
	specs := make([]AlertSpec, 300)
	for i := range specs {
		specs[i] = AlertSpec{Inserted: at, Detected: at.Add(-time.Second)}
	}
	srv.AddAlerts(fqdn, specs)
	first := func() string {
		clock.Advance(time.Second) // a fresh rate-limit second
		r := c.alerts(window(at, at, 0, 100, "creation_time"))
		if r.status != 200 || r.Reply.Total != 250 || len(r.Reply.Alerts) != 100 {
			t.Fatalf("status %d, total_count %d, %d alerts", r.status, r.Reply.Total, len(r.Reply.Alerts))
		}
		return string(r.Reply.Alerts[0])
	}
	if a, b := first(), first(); a == b {
		t.Fatal("the same tie order on two requests")
	}
	clock.Advance(time.Second)
	r := c.alerts(window(at, at, 200, 100, "creation_time"))
	if r.status != 200 || r.Reply.Total != 250 || len(r.Reply.Alerts) != 100 {
		t.Fatalf("past the cap: status %d, total_count %d, %d alerts; want the records up to 300", r.status, r.Reply.Total, len(r.Reply.Alerts))
	}
	c.alerts(`{"request_data":{}}`)
	if r := c.alerts(`{"request_data":{}}`); r.status != http.StatusForbidden || r.Reply.ErrMsg != "Too many requests" {
		t.Fatalf("third request in a second answered %d %q, want the throttle with status 403", r.status, r.Reply.ErrMsg)
	}
}

// The other readings of how far offsets reach past the 9 999 count: a
// refusal under the status the API documents for every error (500), and
// records served to some offset, then empty pages without an error.
func TestReachPastTheCap(t *testing.T) {
	at := t0.Add(-time.Hour)
	specs := make([]AlertSpec, 300)
	for i := range specs {
		specs[i] = AlertSpec{Inserted: at}
	}
	t.Run("refused with 500", func(t *testing.T) {
		srv, c, _ := newSim(t, Options{ResultCap: 250, RefuseBeyondCap: true, RefuseStatus: http.StatusInternalServerError}, Tenant{Compact: true}, Key{})
		srv.AddAlerts(fqdn, specs)
		if r := c.alerts(window(at, at, 200, 51, "creation_time")); r.status != 200 || len(r.Reply.Alerts) != 51 {
			t.Fatalf("up to offset 251: status %d, %d alerts", r.status, len(r.Reply.Alerts))
		}
		if r := c.alerts(window(at, at, 251, 100, "creation_time")); r.status != http.StatusInternalServerError || r.Reply.ErrCode != 500 || r.Reply.ErrMsg != "An internal error occurred" {
			t.Fatalf("past offset 251: %d %s", r.status, r.body)
		}
	})
	t.Run("empty past 280", func(t *testing.T) {
		srv, c, _ := newSim(t, Options{ResultCap: 250, EmptyBeyond: 280}, Tenant{Compact: true}, Key{})
		srv.AddAlerts(fqdn, specs)
		if r := c.alerts(window(at, at, 200, 100, "creation_time")); r.status != 200 || r.Reply.Total != 250 || len(r.Reply.Alerts) != 80 {
			t.Fatalf("offsets 200-300: status %d, total_count %d, %d alerts; want the 80 up to 280", r.status, r.Reply.Total, len(r.Reply.Alerts))
		}
		if r := c.alerts(window(at, at, 280, 100, "creation_time")); r.status != 200 || r.Reply.Total != 250 || len(r.Reply.Alerts) != 0 {
			t.Fatalf("past 280: status %d, total_count %d, %d alerts; want an empty page", r.status, r.Reply.Total, len(r.Reply.Alerts))
		}
	})
}

// A slow body holds the second half of any answer back after the headers
// have gone out, a refusal's too.
func TestSlowBodyArrivesAfterItsHeaders(t *testing.T) {
	const delay = 100 * time.Millisecond
	srv, c, _ := newSim(t, Options{}, Tenant{}, Key{})
	srv.AddAlert(fqdn, AlertSpec{Inserted: t0.Add(-time.Hour)})
	for _, h := range []http.Header{c.headers(), {"Content-Type": {"application/json"}, "X-Xdr-Auth-Id": {c.id}, "Authorization": {"wrong"}}} {
		srv.Inject(Fault{Kind: FaultSlowBody, Delay: delay})
		req, _ := http.NewRequest("POST", srv.URL+PathAlerts, strings.NewReader(`{"request_data":{}}`))
		req.Header, req.Host = h, c.host
		// Measured from the request's sending: the server holds the rest
		// back for delay after it read the request, so the whole body
		// cannot arrive sooner, however busy the machine.
		sent := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if took := time.Since(sent); err != nil || took < delay {
			t.Fatalf("body read in %v after the request was sent (%v), want at least %v", took, err, delay)
		}
		var v struct {
			Reply struct {
				Total   int `json:"total_count"`
				ErrCode int `json:"err_code"`
			} `json:"reply"`
		}
		if err := json.Unmarshal(body, &v); err != nil || resp.Header.Get("Date") == "" || v.Reply.Total+v.Reply.ErrCode == 0 {
			t.Fatalf("status %d, body %s (%v)", resp.StatusCode, body, err)
		}
	}
	if srv.FaultsFired(FaultSlowBody) != 2 || srv.Answered(http.StatusOK) != 1 || srv.Answered(http.StatusUnauthorized) != 1 {
		t.Fatalf("fired %d, answered %d 200 and %d 401", srv.FaultsFired(FaultSlowBody), srv.Answered(http.StatusOK), srv.Answered(http.StatusUnauthorized))
	}
}
