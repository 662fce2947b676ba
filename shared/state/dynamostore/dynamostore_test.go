package dynamostore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/statetest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func ctx(t *testing.T) context.Context { return awstest.Context(t, 30*time.Second) }

// newTable creates a fresh table on the shared moto_server.
func newTable(t *testing.T, client *dynamodb.Client) string {
	t.Helper()
	table := awstest.UniqueName(t, "state")
	if err := CreateTable(ctx(t), client, table); err != nil {
		t.Fatal(err)
	}
	return table
}

// clock is a test clock that only moves when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recorder sees every HTTP request the SDK sends, retries included, and
// can make one request's answer get lost after the server applied it.
type recorder struct {
	next aws.HTTPClient

	mu       sync.Mutex
	ops      []string
	loseNext string // operation whose next response is dropped
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	r.mu.Lock()
	r.ops = append(r.ops, op)
	lose := r.loseNext != "" && r.loseNext == op
	if lose {
		r.loseNext = ""
	}
	r.mu.Unlock()
	resp, err := r.next.Do(req)
	if lose && err == nil {
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return resp, err
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := r.ops
	r.ops = nil
	return ops
}

func (r *recorder) lose(op string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.loseNext = op
}

func recordingClient(t *testing.T, endpoint string) (*dynamodb.Client, *recorder) {
	cfg := awstest.Config(t, endpoint)
	rec := &recorder{next: cfg.HTTPClient}
	cfg.HTTPClient = rec
	return dynamodb.NewFromConfig(cfg), rec
}

func getItem(t *testing.T, client *dynamodb.Client, table string, k state.Key) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(ctx(t), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"pk": str(k.String())},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func sAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return fmt.Sprintf("<%T>", item[name])
}

func nAttr(t *testing.T, item map[string]types.AttributeValue, name string) int64 {
	t.Helper()
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("attribute %s is %T, want N", name, item[name])
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var audit = state.Key{Tenant: "acme", Vendor: "1password", Stream: "audit"}

// TestContract runs the shared store contract. All traffic goes through a
// one-at-a-time proxy: moto does not apply conditional writes atomically,
// and the contract's concurrent-runners case would otherwise test moto's
// race instead of this store.
func TestContract(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, awstest.SerialProxy(t, moto.Endpoint))
	var mu sync.Mutex
	tables := map[*testing.T]string{}
	statetest.Run(t, statetest.Options{
		LeasesExpire: true,
		New: func(t *testing.T) state.Store {
			mu.Lock()
			defer mu.Unlock()
			table, ok := tables[t]
			if !ok {
				table = newTable(t, client)
				tables[t] = table
			}
			return New(client, table)
		},
	})
}

// TestLostLeaseCannotCommit shows exclusivity step by step, at the level
// of DynamoDB's conditional writes, with a clock the test controls.
func TestLostLeaseCannotCommit(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, moto.Endpoint)
	table := newTable(t, client)
	clk := newClock()
	a := New(client, table, WithClock(clk.Now))
	b := New(client, table, WithClock(clk.Now))
	opts := func(owner string) state.LockOptions { return state.LockOptions{Owner: owner, TTL: time.Minute} }

	// 1. A locks, commits once and reads the record.
	la, err := a.Lock(ctx(t), audit, opts("runner-a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := la.Commit(ctx(t), state.Record{Cursor: json.RawMessage(`{"page":"a1"}`)}); err != nil {
		t.Fatal(err)
	}
	recA, err := la.Load(ctx(t))
	if err != nil || recA.Version != 1 {
		t.Fatalf("A Load = %+v, %v", recA, err)
	}
	tokenA := sAttr(getItem(t, client, table, audit), attrToken)

	// 2. While A's lease runs, B is refused, and told who holds it.
	_, err = b.Lock(ctx(t), audit, opts("runner-b"))
	if !errors.Is(err, state.ErrLocked) || !strings.Contains(err.Error(), "runner-a") {
		t.Fatalf("B Lock during A's lease: %v, want ErrLocked naming runner-a", err)
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("ErrLocked does not carry DynamoDB's ConditionalCheckFailedException: %v", err)
	}

	// 3. A stalls past its lease (A's commit renewed it to now+1m).
	clk.Advance(61 * time.Second)

	// 4. B takes over: its token replaces A's in the item.
	lb, err := b.Lock(ctx(t), audit, opts("runner-b"))
	if err != nil {
		t.Fatalf("B Lock after A's lease expired: %v", err)
	}
	item := getItem(t, client, table, audit)
	if sAttr(item, attrOwner) != "runner-b" || sAttr(item, attrToken) == tokenA {
		t.Fatalf("after B's Lock the item has owner %q and A's token still: %v", sAttr(item, attrOwner), sAttr(item, attrToken) == tokenA)
	}

	// 5. B reads and commits version 2.
	recB, err := lb.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	recB.Cursor = json.RawMessage(`{"page":"b1"}`)
	if v, err := lb.Commit(ctx(t), recB); err != nil || v != 2 {
		t.Fatalf("B Commit = %d, %v", v, err)
	}

	// 6. A wakes up and commits from what it read: DynamoDB refuses the
	// write because the token is no longer A's.
	recA.Cursor = json.RawMessage(`{"page":"a2"}`)
	_, err = la.Commit(ctx(t), recA)
	if !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("A's late Commit: %v, want ErrLeaseLost", err)
	}
	if !errors.As(err, &ccf) {
		t.Fatalf("A's late Commit was not refused by DynamoDB's condition: %v", err)
	}
	if !strings.Contains(err.Error(), "runner-b") {
		t.Fatalf("error does not name the new holder: %v", err)
	}
	if _, err := la.Load(ctx(t)); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("A Load after takeover: %v, want ErrLeaseLost", err)
	}

	// 7. The stored record is B's.
	item = getItem(t, client, table, audit)
	if nAttr(t, item, attrVersion) != 2 || sAttr(item, attrCursor) != `{"page":"b1"}` || sAttr(item, attrOwner) != "runner-b" {
		t.Fatalf("stored item is not B's: version %d cursor %s owner %s",
			nAttr(t, item, attrVersion), sAttr(item, attrCursor), sAttr(item, attrOwner))
	}

	// 8. A's release does not remove B's lease.
	if err := la.Release(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if sAttr(getItem(t, client, table, audit), attrOwner) != "runner-b" {
		t.Fatalf("A's Release removed B's lease")
	}
	if _, err := lb.Commit(ctx(t), state.Record{Version: 2}); err != nil {
		t.Fatalf("B Commit after A's Release: %v", err)
	}
}

// TestCallsPerOperation pins the cost: one conditional write per Lock,
// Commit and Release, one consistent read per Load.
func TestCallsPerOperation(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client, calls := recordingClient(t, moto.Endpoint)
	table := newTable(t, client)
	s := New(client, table)
	calls.take()

	expect := func(step string, want ...string) {
		t.Helper()
		if got := calls.take(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s sent %v, want %v", step, got, want)
		}
	}
	l, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "a", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	expect("Lock", "UpdateItem")
	rec, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	expect("Load", "GetItem")
	for i := 0; i < 5; i++ {
		rec.Cursor = json.RawMessage(fmt.Sprintf(`{"page":%d}`, i))
		rec.Seen = []state.Seen{{Key: fmt.Sprint("k", i), At: time.Now()}}
		v, err := l.Commit(ctx(t), rec)
		if err != nil {
			t.Fatal(err)
		}
		rec.Version = v
		expect("Commit", "UpdateItem")
	}
	// A refused commit is also one call: the refusal carries the old item.
	if _, err := l.Commit(ctx(t), state.Record{Version: 1}); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("stale Commit: %v", err)
	}
	expect("refused Commit", "UpdateItem")
	if err := l.Release(ctx(t)); err != nil {
		t.Fatal(err)
	}
	expect("Release", "UpdateItem")
	if err := l.Release(ctx(t)); err != nil {
		t.Fatal(err)
	}
	expect("second Release")
	if _, err := l.Commit(ctx(t), rec); !errors.Is(err, state.ErrLeaseLost) {
		t.Fatalf("Commit after Release: %v", err)
	}
	expect("Commit after Release")
}

// TestRetriedWritesAreRecognised loses the answer to a Lock and to a
// Commit after DynamoDB applied them. The SDK retries, the retry's
// condition fails on our own write, and the store must report success,
// not ErrLocked or ErrConflict.
func TestRetriedWritesAreRecognised(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client, calls := recordingClient(t, moto.Endpoint)
	table := newTable(t, client)
	s := New(client, table)
	calls.take()

	calls.lose("UpdateItem")
	l, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "a", TTL: time.Minute})
	if err != nil {
		t.Fatalf("Lock whose first answer was lost: %v", err)
	}
	if got := calls.take(); len(got) != 2 {
		t.Fatalf("expected one retry, sent %v", got)
	}
	calls.lose("UpdateItem")
	v, err := l.Commit(ctx(t), state.Record{Cursor: json.RawMessage(`{"c":1}`)})
	if err != nil || v != 1 {
		t.Fatalf("Commit whose first answer was lost = %d, %v; want 1, nil", v, err)
	}
	if got := calls.take(); len(got) != 2 {
		t.Fatalf("expected one retry, sent %v", got)
	}
	// A genuinely stale commit is still a conflict.
	if _, err := l.Commit(ctx(t), state.Record{Cursor: json.RawMessage(`{"c":1}`)}); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("stale Commit: %v, want ErrConflict", err)
	}
	l.Release(ctx(t))
}

func TestItemSchema(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, moto.Endpoint)
	table := newTable(t, client)

	ttl, err := client.DescribeTimeToLive(ctx(t), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "ttl" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("TTL not enabled on ttl: %+v", d)
	}

	clk := newClock()
	s := New(client, table, WithClock(clk.Now))
	l, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "lambda-1", TTL: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 23, 59, 59, 5, time.UTC)
	rec := state.Record{
		Cursor: json.RawMessage(`{"cursor":"x<y>&z"}`),
		Seen:   []state.Seen{{Key: `q"<&>`, At: at}, {Key: "b", At: at.Truncate(time.Second)}},
	}
	clk.Advance(time.Minute)
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	item := getItem(t, client, table, audit)
	now := clk.Now()
	checks := []struct {
		name, got, want string
	}{
		{"pk", sAttr(item, "pk"), "acme/1password/audit"},
		{"cursor", sAttr(item, "cursor"), `{"cursor":"x<y>&z"}`},
		{"updated_at", sAttr(item, "updated_at"), now.Format(time.RFC3339Nano)},
		{"lease_owner", sAttr(item, "lease_owner"), "lambda-1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	var seen []string
	if l, ok := item["seen"].(*types.AttributeValueMemberL); ok {
		for _, e := range l.Value {
			seen = append(seen, sAttr(map[string]types.AttributeValue{"e": e}, "e"))
		}
	}
	if got, want := strings.Join(seen, "|"), `1772409599.000000005 q"<&>|1772409599 b`; got != want {
		t.Errorf("seen = %s, want %s", got, want)
	}
	if nAttr(t, item, "format") != Format || nAttr(t, item, "version") != 1 {
		t.Errorf("format/version wrong: %v", item)
	}
	if got, want := nAttr(t, item, "lease_expires"), now.Add(5*time.Minute).UnixMilli(); got != want {
		t.Errorf("lease_expires = %d, want %d (commit renews the lease)", got, want)
	}
	if got, want := nAttr(t, item, "ttl"), now.Add(DefaultRetention).Unix(); got != want {
		t.Errorf("ttl = %d, want %d", got, want)
	}
	if len(sAttr(item, "lease_token")) < 20 || len(sAttr(item, "commit_id")) < 20 {
		t.Errorf("lease_token or commit_id missing")
	}
	if err := l.Release(ctx(t)); err != nil {
		t.Fatal(err)
	}
	item = getItem(t, client, table, audit)
	for _, a := range []string{"lease_owner", "lease_token", "lease_expires"} {
		if _, ok := item[a]; ok {
			t.Errorf("%s still present after Release", a)
		}
	}
	if nAttr(t, item, "version") != 1 {
		t.Errorf("Release changed the record")
	}
}

// TestLeaseExpiryIgnoresTTLAttribute: moto, like DynamoDB before its
// sweeper runs, keeps items whose ttl has passed. Whether a lease is free
// must come from lease_expires alone.
func TestLeaseExpiryIgnoresTTLAttribute(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, moto.Endpoint)
	table := newTable(t, client)
	clk := newClock()
	s := New(client, table, WithClock(clk.Now), WithRetention(time.Second))
	l, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "a", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Commit(ctx(t), state.Record{Cursor: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute) // ttl passed, lease has not
	if _, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "b", TTL: time.Hour}); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("Lock with the ttl passed but the lease running: %v, want ErrLocked", err)
	}
	lb := func() state.Lease {
		clk.Advance(time.Hour)
		lb, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "b", TTL: time.Hour})
		if err != nil {
			t.Fatalf("Lock after the lease expired: %v", err)
		}
		return lb
	}()
	rec, err := lb.Load(ctx(t))
	if err != nil || string(rec.Cursor) != "1" {
		t.Fatalf("record after takeover: %+v, %v", rec, err)
	}
}

func TestBoundsAreEnforced(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, moto.Endpoint)
	table := newTable(t, client)
	s := New(client, table)
	l, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "a", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx(t))
	manySeen := make([]state.Seen, state.MaxSeen+1)
	for i := range manySeen {
		manySeen[i] = state.Seen{Key: strconv.Itoa(i)}
	}
	cases := []struct {
		name     string
		rec      state.Record
		tooLarge bool
	}{
		{"too many seen keys", state.Record{Seen: manySeen}, true},
		{"seen key too long", state.Record{Seen: []state.Seen{{Key: strings.Repeat("k", state.MaxSeenKeyLen+1)}}}, true},
		{"huge cursor", state.Record{Cursor: json.RawMessage(`"` + strings.Repeat("c", MaxItemBytes) + `"`)}, true},
		{"cursor not JSON", state.Record{Cursor: json.RawMessage(`{"cursor":`)}, false},
		{"seen key not UTF-8", state.Record{Seen: []state.Seen{{Key: "\xff\xfe"}}}, false},
	}
	for _, c := range cases {
		_, err := l.Commit(ctx(t), c.rec)
		if err == nil {
			t.Fatalf("%s: Commit accepted", c.name)
		}
		if errors.Is(err, ErrTooLarge) != c.tooLarge {
			t.Fatalf("%s: err = %v; ErrTooLarge expected: %v", c.name, err, c.tooLarge)
		}
	}
	if _, ok := getItem(t, client, table, audit)[attrVersion]; ok {
		t.Fatalf("a refused record was stored")
	}
	// The largest dedup set the pipeline may produce, with keys full of
	// characters an encoding might escape and times with every digit
	// used, fits beside a 64 KiB cursor.
	worst := state.Record{Cursor: json.RawMessage(`{"cursor":"` + strings.Repeat("c", 64<<10) + `"}`)}
	for i := 0; i < state.MaxSeen; i++ {
		key := fmt.Sprintf("%08d%sxxxx", i, strings.Repeat("\x01\"\\ é", 14))
		worst.Seen = append(worst.Seen, state.Seen{Key: key, At: time.Unix(-(1 << 40), 999999999)})
	}
	if _, err := l.Commit(ctx(t), worst); err != nil {
		t.Fatalf("Commit of the worst-case dedup set: %v", err)
	}
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(worst.Seen[0].Key) != state.MaxSeenKeyLen {
		t.Fatalf("test key is %d bytes", len(worst.Seen[0].Key))
	}
	for i := range worst.Seen {
		if got.Seen[i].Key != worst.Seen[i].Key || !got.Seen[i].At.Equal(worst.Seen[i].At) {
			t.Fatalf("Seen[%d] = %+v, want %+v", i, got.Seen[i], worst.Seen[i])
		}
	}
}

func TestCorruptItemIsReported(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, moto.Endpoint)
	table := newTable(t, client)
	s := New(client, table)
	l, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "a", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx(t))
	lease := getItem(t, client, table, audit)
	for _, c := range []struct {
		attr  string
		value types.AttributeValue
	}{
		{attrSeen, str(`[["k",1]]`)},
		{attrSeen, &types.AttributeValueMemberL{Value: []types.AttributeValue{str("no-time")}}},
		{attrCursor, str(`{"half":`)},
		{attrUpdatedAt, str(`yesterday`)},
		{attrVersion, str(`3`)},
		{attrFormat, num(Format + 1)},
	} {
		item := map[string]types.AttributeValue{
			attrVersion:   num(3),
			attrFormat:    num(Format),
			attrUpdatedAt: str(time.Now().Format(time.RFC3339Nano)),
		}
		for k, v := range lease {
			item[k] = v
		}
		item[c.attr] = c.value
		if _, err := client.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		_, err := l.Load(ctx(t))
		if !errors.Is(err, state.ErrCorrupt) || !strings.Contains(err.Error(), c.attr) {
			t.Fatalf("corrupt %s: Load = %v, want ErrCorrupt naming the attribute", c.attr, err)
		}
	}
}

// TestLeaseNeverOutlastsUntil: commits renew a lease, but not past
// LockOptions.Until, so a runner killed at its hard deadline frees the
// stream right after it.
func TestLeaseNeverOutlastsUntil(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, moto.Endpoint)
	table := newTable(t, client)
	clk := newClock()
	a := New(client, table, WithClock(clk.Now))
	b := New(client, table, WithClock(clk.Now))
	la, err := a.Lock(ctx(t), audit, state.LockOptions{Owner: "a", TTL: 10 * time.Minute, Until: clk.Now().Add(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, err := la.Commit(ctx(t), state.Record{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx(t), audit, state.LockOptions{Owner: "b", TTL: time.Minute}); !errors.Is(err, state.ErrLocked) {
		t.Fatalf("before Until: err %v, want ErrLocked", err)
	}
	clk.Advance(90 * time.Second) // past Until, well within the TTL
	lb, err := b.Lock(ctx(t), audit, state.LockOptions{Owner: "b", TTL: time.Minute})
	if err != nil {
		t.Fatalf("the lease outlived its Until: %v", err)
	}
	lb.Release(ctx(t))
}
