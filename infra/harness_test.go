package infra

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
	"github.com/wazuh-pull/wazuh-pull/shared/state/dynamostore"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// onepasswordLambda is the 1Password function's main package.
const onepasswordLambda = "github.com/wazuh-pull/wazuh-pull/functions/onepassword/lambda"

// simStreams maps the function's stream names to the simulator's.
var simStreams = map[string]string{
	"audit":     onepasswordtest.StreamAuditEvents,
	"signin":    onepasswordtest.StreamSignInAttempts,
	"itemusage": onepasswordtest.StreamItemUsages,
}

// world is a deployment on loopback as the template wires it
// (lambdatest.World): the real 1Password bootstrap under the Lambda
// runtime emulator, DynamoDB and Secrets Manager in moto (DynamoDB behind
// a proxy that records what the function asks for), the 1Password
// simulator, and the mutual-TLS relay (a real rsyslogd) in front of a
// wazuh-remoted stand-in.
type world struct {
	*lambdatest.World
	t      *testing.T
	ddb    *recorder
	sim    *onepasswordtest.Server
	tokens map[string]string
	rie    *rietest.RIE
}

func newWorld(t *testing.T, bootstrap string, tenants ...string) *world {
	t.Helper()
	w := &world{t: t, tokens: map[string]string{}}
	w.World = lambdatest.New(t, lambdatest.Options{DynamoDB: func(target string) string {
		w.ddb = newRecorder(t, target)
		return w.ddb.URL
	}})
	w.sim = onepasswordtest.New(onepasswordtest.Options{RateLimitPerMinute: -1, RateLimitPerHour: -1})
	t.Cleanup(w.sim.Close)
	for _, tenant := range tenants {
		w.tokens[tenant] = w.sim.AddAccount(tenant, onepasswordtest.Account{})
		w.PutSecret(w.SecretID(onepassword.Vendor, tenant), map[string]string{
			onepassword.FieldBearerToken: w.tokens[tenant], onepassword.FieldBaseURL: w.sim.URL})
	}
	// The variables the template sets (TestEnvironment checks the names).
	w.rie = rietest.Start(t, rietest.Options{Bootstrap: bootstrap, Timeout: 60, Env: w.Env(
		lambdarun.EnvSyslogClientCert+"=required",
		lambdarun.EnvRateLimit+"=-1",
	)})
	return w
}

// generate adds n events to a tenant's stream, one every step, the
// newest at end.
func (w *world) generate(tenant, stream string, n int, end time.Time, step time.Duration) {
	w.sim.Generate(tenant, simStreams[stream], n, end.Add(-time.Duration(n-1)*step), step)
}

// invoke runs one stream of one tenant; the result may be an error.
func (w *world) invoke(tenant, stream string) *rietest.Result {
	w.t.Helper()
	res, err := w.rie.Invoke(awstest.Context(w.t, 2*time.Minute), []byte(`{"stream":"`+stream+`","tenant":"`+tenant+`"}`))
	if err != nil {
		w.t.Fatal(err)
	}
	if res.TimedOut {
		w.t.Fatalf("%s/%s timed out\n%s", tenant, stream, w.rie.Log())
	}
	return res
}

// runID returns an invocation's request id from its summary or error.
func runID(t *testing.T, res *rietest.Result) string {
	t.Helper()
	var out struct {
		RunID string `json:"run_id"`
	}
	if res.ErrorType == "" {
		if err := json.Unmarshal(res.Body, &out); err == nil && out.RunID != "" {
			return out.RunID
		}
	}
	if i := strings.Index(res.ErrorMessage, "run_id="); i >= 0 {
		id, _, _ := strings.Cut(res.ErrorMessage[i+len("run_id="):], ":")
		return strings.TrimSpace(id)
	}
	t.Fatalf("no run id in %s", res)
	return ""
}

// linesOf returns the function's JSON output lines of one invocation
// (those carrying its run id), waiting for its EMF line: the emulator may
// answer before it has copied the function's last line from its pipe.
func (w *world) linesOf(id string) (lines []map[string]any, raw [][]byte) {
	w.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		lines, raw = nil, nil
		haveEMF := false
		sc := bufio.NewScanner(strings.NewReader(w.rie.Log()))
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 || b[0] != '{' {
				continue
			}
			var m map[string]any
			if json.Unmarshal(b, &m) != nil || m["run_id"] != id {
				continue
			}
			if _, ok := m["_aws"]; ok {
				haveEMF = true
			}
			lines = append(lines, m)
			raw = append(raw, append([]byte(nil), b...))
		}
		if haveEMF {
			return lines, raw
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("no EMF line for run %s\n%s", id, w.rie.Log())
		}
	}
}

// emfOf returns an invocation's EMF line.
func emfOf(t *testing.T, lines []map[string]any) map[string]any {
	t.Helper()
	var emf []map[string]any
	for _, m := range lines {
		if _, ok := m["_aws"]; ok {
			emf = append(emf, m)
		}
	}
	if len(emf) != 1 {
		t.Fatalf("%d EMF lines for one invocation", len(emf))
	}
	return emf[0]
}

// recorder is a loopback reverse proxy in front of moto's DynamoDB that
// keeps every request the function sends: operation, table, partition
// keys, consistency, so a test can price and authorise them.
type recorder struct {
	URL string

	mu   sync.Mutex
	reqs []ddbRequest
}

type ddbRequest struct {
	Op         string
	Keys       []string // partition keys written or read
	Consistent bool
	// Transact is the number of items of a transaction (2 units each).
	Transact int
}

func newRecorder(t *testing.T, target string) *recorder {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = awstest.LoopbackHTTPClient().Transport
	rp.ErrorLog = log.New(io.Discard, "", 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.add(rietest.Operation(r), body)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

func (rec *recorder) add(op string, body []byte) {
	var req struct {
		Key            map[string]map[string]any
		Item           map[string]map[string]any
		ConsistentRead bool
		TransactItems  []map[string]struct {
			Key  map[string]map[string]any
			Item map[string]map[string]any
		}
	}
	json.Unmarshal(body, &req)
	r := ddbRequest{Op: op, Consistent: req.ConsistentRead, Transact: len(req.TransactItems)}
	pk := func(m map[string]map[string]any) {
		if s, ok := m["pk"]["S"].(string); ok {
			r.Keys = append(r.Keys, s)
		}
	}
	pk(req.Key)
	pk(req.Item)
	for _, ti := range req.TransactItems {
		for _, x := range ti {
			pk(x.Key)
			pk(x.Item)
		}
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, r)
	rec.mu.Unlock()
}

// take returns and forgets the requests recorded so far.
func (rec *recorder) take() []ddbRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	out := rec.reqs
	rec.reqs = nil
	return out
}

// itemSizes returns the size of every item in the table, the way
// DynamoDB bills it (attribute names plus values).
func (w *world) itemSizes() map[string]int {
	w.t.Helper()
	out := map[string]int{}
	p := dynamodb.NewScanPaginator(w.DB, &dynamodb.ScanInput{TableName: aws.String(w.Table)})
	for p.HasMorePages() {
		page, err := p.NextPage(awstest.Context(w.t, time.Minute))
		if err != nil {
			w.t.Fatal(err)
		}
		for _, item := range page.Items {
			pk := item["pk"].(*types.AttributeValueMemberS).Value
			out[pk] = dynamostore.ItemSize(item)
		}
	}
	return out
}

// usage is what one invocation cost in DynamoDB: write and read requests
// and the capacity units DynamoDB bills for them (a write costs 1 unit
// per KB of the larger of the item before and after; a strongly
// consistent read 1 unit per 4 KB, an eventually consistent one half).
type usage struct {
	Writes, Reads         int
	WriteUnits, ReadUnits float64
	Ops                   map[string]int
	Keys                  []string
	LargestItemBytes      int
}

func priceDynamoDB(reqs []ddbRequest, before, after map[string]int) usage {
	u := usage{Ops: map[string]int{}}
	size := func(pk string) int { return max(before[pk], after[pk]) }
	for _, r := range reqs {
		u.Ops[r.Op]++
		u.Keys = append(u.Keys, r.Keys...)
		for _, pk := range r.Keys {
			u.LargestItemBytes = max(u.LargestItemBytes, size(pk))
		}
		switch r.Op {
		case "DynamoDB.GetItem", "DynamoDB.BatchGetItem", "DynamoDB.Query":
			for _, pk := range r.Keys {
				units := math.Max(1, math.Ceil(float64(size(pk))/4096))
				if !r.Consistent {
					units /= 2
				}
				u.Reads++
				u.ReadUnits += units
			}
		case "DynamoDB.TransactGetItems":
			for _, pk := range r.Keys {
				u.Reads++
				u.ReadUnits += 2 * math.Max(1, math.Ceil(float64(size(pk))/4096))
			}
		default:
			per := 1.0
			if r.Transact > 0 {
				per = 2
			}
			for _, pk := range r.Keys {
				u.Writes++
				u.WriteUnits += per * math.Max(1, math.Ceil(float64(size(pk))/1024))
			}
		}
	}
	return u
}
