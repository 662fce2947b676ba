package awstest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestMain(m *testing.M) { Main(m) }

func TestMainSetsDummyEnvironment(t *testing.T) {
	for _, kv := range testEnv {
		if got := os.Getenv(kv[0]); got != kv[1] {
			t.Errorf("%s = %q, want %q", kv[0], got, kv[1])
		}
	}
	for _, k := range clearedEnv {
		if _, ok := os.LookupEnv(k); ok {
			t.Errorf("%s is set", k)
		}
	}
}

func TestSetTestEnvSetsAndRestores(t *testing.T) {
	t.Setenv("AWS_PROFILE", "production")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAREALLOOKINGKEY")
	t.Run("inner", func(t *testing.T) {
		SetTestEnv(t)
		if _, ok := os.LookupEnv("AWS_PROFILE"); ok {
			t.Fatalf("AWS_PROFILE still set")
		}
		if got := os.Getenv("AWS_ACCESS_KEY_ID"); got != "test" {
			t.Fatalf("AWS_ACCESS_KEY_ID = %q", got)
		}
		if got := os.Getenv("AWS_EC2_METADATA_DISABLED"); got != "true" {
			t.Fatalf("AWS_EC2_METADATA_DISABLED = %q", got)
		}
	})
	if got := os.Getenv("AWS_PROFILE"); got != "production" {
		t.Fatalf("AWS_PROFILE not restored: %q", got)
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:5000", "http://[::1]:80", "https://localhost:443", "http://127.9.9.9"} {
		if err := CheckLoopback(ok); err != nil {
			t.Errorf("CheckLoopback(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"https://dynamodb.us-east-1.amazonaws.com", "http://169.254.169.254", "http://10.0.0.1:5000", "127.0.0.1:5000", "ftp://127.0.0.1"} {
		if err := CheckLoopback(bad); err == nil {
			t.Errorf("CheckLoopback(%q) accepted", bad)
		}
	}
}

func TestLoopbackHTTPClientRefusesOffMachineAddress(t *testing.T) {
	// 192.0.2.0/24 is reserved for documentation; the dialer must refuse
	// before connecting, so nothing is sent even if it were routable.
	_, err := LoopbackHTTPClient().Get("http://192.0.2.1:9/")
	if err == nil || !strings.Contains(err.Error(), "non-loopback") {
		t.Fatalf("err = %v, want a refusal to dial", err)
	}
}

// inflightServer answers after a pause and records the most requests it
// ever had in progress at once.
func inflightServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var cur, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		w.Header().Set("X-Seen-Path", r.URL.Path)
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	}))
	t.Cleanup(srv.Close)
	return srv, &peak
}

func fire(t *testing.T, url string, n int) {
	t.Helper()
	client := LoopbackHTTPClient()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(url+"/p", "text/plain", strings.NewReader("body"))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Seen-Path") != "/p" {
				t.Errorf("status %d, path %q", resp.StatusCode, resp.Header.Get("X-Seen-Path"))
			}
		}()
	}
	wg.Wait()
}

func TestSerialProxySerialises(t *testing.T) {
	direct, directPeak := inflightServer(t)
	fire(t, direct.URL, 8)
	// The backend itself handles requests concurrently; otherwise the
	// check below could not tell a serial proxy from a parallel one.
	if directPeak.Load() < 2 {
		t.Fatalf("backend never saw concurrent requests (peak %d); the test cannot detect a parallel proxy", directPeak.Load())
	}
	backend, peak := inflightServer(t)
	fire(t, SerialProxy(t, backend.URL), 8)
	if peak.Load() != 1 {
		t.Fatalf("backend saw %d requests at once through SerialProxy, want 1", peak.Load())
	}
}

func TestSerialProxyRefusesNonLoopbackTarget(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }()
		SerialProxy(ft, "https://dynamodb.us-east-1.amazonaws.com")
	}()
	if !ft.failed {
		t.Fatalf("SerialProxy accepted a non-loopback target")
	}
}

// fatalRecorder turns Fatalf into a recorded failure plus a panic, so a
// test can check that a helper refuses its input.
type fatalRecorder struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = format
	panic("fatal")
}

func TestMissingMotoServerNamesInstallCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := startMoto()
	if err == nil || !strings.Contains(err.Error(), InstallHint) {
		t.Fatalf("err = %v, want it to name %s", err, InstallHint)
	}
}

func TestSharedMotoServesDynamoDBAndSecretsManager(t *testing.T) {
	m := SharedMoto(t)
	if err := CheckLoopback(m.Endpoint); err != nil {
		t.Fatal(err)
	}
	ctx := Context(t, 20*time.Second)
	if _, err := DynamoDB(t, m.Endpoint).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	if _, err := SecretsManager(t, m.Endpoint).ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Fatalf("ListSecrets: %v", err)
	}
	if SharedMoto(t) != m {
		t.Fatalf("SharedMoto started a second server")
	}
}

func TestStartMotoIsStoppedWithTheTest(t *testing.T) {
	var endpoint string
	t.Run("owner", func(t *testing.T) {
		endpoint = StartMoto(t).Endpoint
		resp, err := LoopbackHTTPClient().Get(endpoint + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	client := LoopbackHTTPClient()
	client.Timeout = 2 * time.Second
	if resp, err := client.Get(endpoint + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("moto_server still answers on %s after its test ended", endpoint)
	}
}

// TestSerialProxyMakesConditionalWritesExclusive races conditional
// creates of one item through the proxy: exactly one may win, which is
// what real DynamoDB guarantees and moto alone does not.
func TestSerialProxyMakesConditionalWritesExclusive(t *testing.T) {
	m := SharedMoto(t)
	ctx := Context(t, 30*time.Second)
	db := DynamoDB(t, SerialProxy(t, m.Endpoint))
	table := UniqueName(t, "t")
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	}); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	const writers, rounds = 8, 5
	for r := 0; r < rounds; r++ {
		var wins, refused atomic.Int32
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
					TableName:           aws.String(table),
					Item:                map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "k" + string(rune('a'+r))}},
					ConditionExpression: aws.String("attribute_not_exists(pk)"),
				})
				var ccf *types.ConditionalCheckFailedException
				switch {
				case err == nil:
					wins.Add(1)
				case errors.As(err, &ccf):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || refused.Load() != writers-1 {
			t.Fatalf("round %d: %d writers won, %d refused; want 1 and %d", r, wins.Load(), refused.Load(), writers-1)
		}
	}
}

// TestStartMotoTakesThePortItPrints: the endpoint is the one the server
// printed after binding, never a port chosen before it started (another
// process could take that one first and answer in moto's place). The
// stand-in moto_server prints another server's address and waits.
func TestStartMotoTakesThePortItPrints(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	bin := t.TempDir()
	script := "#!/bin/sh\necho 'WARNING: This is a development server.'\necho ' * Running on " + srv.URL + "'\nexec sleep 60\n"
	if err := os.WriteFile(filepath.Join(bin, "moto_server"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	m, err := startMoto()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if m.Endpoint != srv.URL {
		t.Fatalf("endpoint %s, want the printed %s", m.Endpoint, srv.URL)
	}
}
