package dynamostore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
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
	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
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

// newClock is a test clock that only moves when told to.
func newClock() *simtest.Clock { return simtest.NewClock(time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)) }

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
	type world struct {
		table string
		clock *simtest.Clock
	}
	worlds := map[*testing.T]*world{}
	get := func(t *testing.T) *world {
		mu.Lock()
		defer mu.Unlock()
		w, ok := worlds[t]
		if !ok {
			w = &world{table: newTable(t, client), clock: newClock()}
			worlds[t] = w
		}
		return w
	}
	statetest.Run(t, statetest.Options{
		LeasesExpire: true,
		New: func(t *testing.T) state.Store {
			w := get(t)
			return New(client, w.table, WithClock(w.clock.Now))
		},
		Now:     func(t *testing.T) time.Time { return get(t).clock.Now() },
		Advance: func(t *testing.T, d time.Duration) { get(t).clock.Advance(d) },
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

// TestCallsPerOperation pins the requests: one conditional write per
// Lock, Renew and Release; a commit whose new keys fit in the head is one
// UpdateItem, one that writes dedup chunks one more per new chunk; Load
// reads the head and each chunk.
func TestCallsPerOperation(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client, calls := recordingClient(t, moto.Endpoint)
	table := newTable(t, client)
	s := New(client, table)
	calls.take()

	expect := func(step string, want ...string) {
		t.Helper()
		got := calls.take()
		slices.Sort(got)
		slices.Sort(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
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
	if err := l.Renew(ctx(t)); err != nil {
		t.Fatal(err)
	}
	expect("Renew", "UpdateItem")
	base := time.Now()
	for i := 0; i < 5; i++ {
		rec.Cursor = json.RawMessage(fmt.Sprintf(`{"page":%d}`, i))
		rec.Seen = append(rec.Seen, state.Seen{Digest: state.KeyDigest(fmt.Sprint("k", i)), At: base})
		v, err := l.Commit(ctx(t), rec)
		if err != nil {
			t.Fatal(err)
		}
		rec.Version = v
		expect("Commit of a few keys", "UpdateItem")
	}
	// Many new keys: one write per new chunk, then the head.
	for i := 0; i < 3; i++ {
		rec.Seen = append(rec.Seen, seenRange("busy", i*1500, 1500, base)...)
		before := l.(*lease).layout.man.chunks
		v, err := l.Commit(ctx(t), rec)
		if err != nil {
			t.Fatal(err)
		}
		rec.Version = v
		written := 0
		for _, c := range l.(*lease).layout.man.chunks {
			if !slices.ContainsFunc(before, func(b chunkRef) bool { return b.slot == c.slot }) {
				written++
			}
		}
		if written == 0 {
			t.Fatalf("commit %d of 1500 new keys wrote no chunk", i)
		}
		want := []string{"UpdateItem"}
		for range written {
			want = append(want, "UpdateItem")
		}
		expect("Commit of many keys", want...)
	}
	if _, err := l.Load(ctx(t)); err != nil {
		t.Fatal(err)
	}
	chunks := len(l.(*lease).layout.man.chunks)
	if chunks < 1 {
		t.Fatalf("no chunks after 4500 keys")
	}
	want := []string{"GetItem"}
	for range chunks {
		want = append(want, "GetItem")
	}
	expect("Load with chunks", want...)
	// A refused commit is also one call: the refusal carries the old item.
	if _, err := l.Commit(ctx(t), state.Record{Version: 1}); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("stale Commit: %v", err)
	}
	expect("refused Commit", "UpdateItem")
	if _, err := l.Commit(ctx(t), state.Record{Version: 1, Seen: seenRange("x", 0, 2000, base)}); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("stale Commit with chunks: %v", err)
	}
	expect("refused Commit with chunks", "UpdateItem", "UpdateItem") // an orphan chunk, the refused head
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

// seenRange is n dedup entries for keys prefix+i, i from first, all near at.
func seenRange(prefix string, first, n int, at time.Time) []state.Seen {
	out := make([]state.Seen, n)
	for i := range out {
		out[i] = state.Seen{Digest: state.KeyDigest(fmt.Sprint(prefix, first+i)), At: at.Add(time.Duration(first+i) * time.Millisecond)}
	}
	return out
}

// TestRetriedWritesAreRecognised loses the answer to a Lock, a chunk
// write and a head update after DynamoDB applied them. The SDK retries,
// the retry's condition fails on our own write, and the store must report
// success, not ErrLocked or ErrConflict.
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
	calls.lose("UpdateItem") // the chunk's write
	big := state.Record{Version: 1, Cursor: json.RawMessage(`{"c":2}`), Seen: seenRange("k", 0, 3000, time.Now())}
	v, err = l.Commit(ctx(t), big)
	if err != nil || v != 2 {
		t.Fatalf("Commit whose chunk write's answer was lost = %d, %v; want 2, nil", v, err)
	}
	if got, chunks := calls.take(), len(l.(*lease).layout.man.chunks); chunks != 1 || len(got) != 3 {
		t.Fatalf("expected one chunk written twice and the head, sent %v for %d chunks", got, chunks)
	}
	// A genuinely stale commit is still a conflict.
	if _, err := l.Commit(ctx(t), state.Record{Cursor: json.RawMessage(`{"c":1}`)}); !errors.Is(err, state.ErrConflict) {
		t.Fatalf("stale Commit: %v, want ErrConflict", err)
	}
	got, err := l.Load(ctx(t))
	if err != nil || got.Version != 2 || len(got.Seen) != 3000 {
		t.Fatalf("after the retried commits: version %d, %d keys, %v", got.Version, len(got.Seen), err)
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
		Seen:   []state.Seen{{Digest: state.KeyDigest(`q"<&>`), At: at}, {Digest: state.KeyDigest("b"), At: at.Truncate(time.Second)}},
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
	// Two keys fit in the head: digest, then the time as a varint delta.
	tail, ok := item["seen_tail"].(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("seen_tail is %T, want B", item["seen_tail"])
	}
	d1, d2 := state.KeyDigest(`q"<&>`), state.KeyDigest("b")
	want := append(append(append([]byte{}, d1[:]...), binary.AppendVarint(nil, 1772409600)...), d2[:]...)
	want = binary.AppendVarint(want, -1)
	if !bytes.Equal(tail.Value, want) {
		t.Errorf("seen_tail = %x, want %x", tail.Value, want)
	}
	for _, a := range []string{"seen", "seen_chunks"} {
		if _, ok := item[a]; ok {
			t.Errorf("%s present on a record whose keys fit in the head", a)
		}
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
	if size := ItemSize(item); size > headTarget {
		t.Errorf("head is %d bytes, more than %d", size, headTarget)
	}

	// Many keys go to chunk items beside the head.
	rec.Version = 1
	rec.Seen = seenRange("many", 0, 5000, at)
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	item = getItem(t, client, table, audit)
	man, ok := item["seen_chunks"].(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("seen_chunks is %T, want B", item["seen_chunks"])
	}
	m, err := decodeManifest(man.Value)
	if err != nil || len(m.chunks) == 0 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	total := 0
	for _, c := range m.chunks {
		ch := getItemKey(t, client, table, chunkKey(audit, c.slot))
		if nAttr(t, ch, "gen") != 2 || c.gen != 2 || c.written != now.Unix()/3600 {
			t.Errorf("chunk %d: gen %d (manifest %d), written %d; want 2 and hour %d", c.slot, nAttr(t, ch, "gen"), c.gen, c.written, now.Unix()/3600)
		}
		if got, want := nAttr(t, ch, "ttl"), now.Add(DefaultChunkRetention+chunkTTLMargin).Unix(); got != want {
			t.Errorf("chunk ttl = %d, want %d", got, want)
		}
		d := ch["d"].(*types.AttributeValueMemberB).Value
		if len(d) > maxChunkBytes {
			t.Errorf("chunk of %d bytes", len(d))
		}
		total += c.n
	}
	if _, hasTail := item["seen_tail"]; total != 5000 || hasTail {
		t.Errorf("%d keys in chunks (tail present: %v), want all 5000 in chunks", total, hasTail)
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
	if nAttr(t, item, "version") != 2 {
		t.Errorf("Release changed the record")
	}
}

func getItemKey(t *testing.T, client *dynamodb.Client, table, pk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(ctx(t), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"pk": str(pk)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Item) == 0 {
		t.Fatalf("no item %s", pk)
	}
	return out.Item
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
	cases := []struct {
		name     string
		rec      state.Record
		tooLarge bool
	}{
		{"too many seen keys", state.Record{Seen: seenRange("k", 0, state.MaxSeen+1, time.Now())}, true},
		{"huge cursor", state.Record{Cursor: json.RawMessage(`"` + strings.Repeat("c", MaxItemBytes) + `"`)}, true},
		{"cursor not JSON", state.Record{Cursor: json.RawMessage(`{"cursor":`)}, false},
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
	// The largest dedup set, with times as far apart as times get (every
	// entry's time delta takes the most bytes), fits beside a 64 KiB
	// cursor, and no item comes near DynamoDB's 400 KB.
	worst := state.Record{Cursor: json.RawMessage(`{"cursor":"` + strings.Repeat("c", 64<<10) + `"}`)}
	for i := 0; i < state.MaxSeen; i++ {
		at := time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)
		if i%2 == 1 {
			at = time.Date(9999, 12, 31, 23, 59, 58, 0, time.UTC)
		}
		worst.Seen = append(worst.Seen, state.Seen{Digest: state.KeyDigest(strconv.Itoa(i)), At: at})
	}
	if _, err := l.Commit(ctx(t), worst); err != nil {
		t.Fatalf("Commit of the worst-case dedup set: %v", err)
	}
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Seen) != len(worst.Seen) {
		t.Fatalf("%d keys back, want %d", len(got.Seen), len(worst.Seen))
	}
	for i := range worst.Seen {
		if got.Seen[i].Digest != worst.Seen[i].Digest || state.SeenSeconds(got.Seen[i].At) != state.SeenSeconds(worst.Seen[i].At) {
			t.Fatalf("Seen[%d] = %+v, want %+v", i, got.Seen[i], worst.Seen[i])
		}
	}
	head := getItem(t, client, table, audit)
	m, err := decodeManifest(head[attrChunks].(*types.AttributeValueMemberB).Value)
	if err != nil {
		t.Fatal(err)
	}
	largest := ItemSize(head)
	for _, c := range m.chunks {
		largest = max(largest, ItemSize(getItemKey(t, client, table, chunkKey(audit, c.slot))))
	}
	t.Logf("worst case: head %d bytes, %d chunks, largest item %d bytes", ItemSize(head), len(m.chunks), largest)
	if len(m.chunks) > maxChunks || largest > 100<<10 {
		t.Fatalf("%d chunks, largest item %d bytes", len(m.chunks), largest)
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
	goodManifest := manifest{chunks: []chunkRef{{slot: 0, gen: 3, written: time.Now().Unix() / 3600, n: 2}}}.encode()
	putChunk := func(gen int64, entries int) {
		it := map[string]types.AttributeValue{
			attrPK: str(chunkKey(audit, 0)), attrGen: num(gen),
			attrData: &types.AttributeValueMemberB{Value: state.EncodeSeen(seenRange("c", 0, entries, time.Now()))},
		}
		if _, err := client.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	bin := func(b []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: b} }
	for _, c := range []struct {
		name, attr string
		value      types.AttributeValue
		format     int64
		setup      func()
	}{
		{"legacy seen not a list", attrSeen, str(`[["k",1]]`), 1, nil},
		{"legacy entry without time", attrSeen, &types.AttributeValueMemberL{Value: []types.AttributeValue{str("no-time")}}, 1, nil},
		{"legacy seen on format 2", attrSeen, &types.AttributeValueMemberL{}, 2, nil},
		{"chunks on format 1", attrChunks, bin(goodManifest), 1, nil},
		{"cursor", attrCursor, str(`{"half":`), 2, nil},
		{"binary cursor", attrCursor, bin([]byte("\xff{")), 2, nil},
		{"updated_at", attrUpdatedAt, str(`yesterday`), 2, nil},
		{"version type", attrVersion, str(`3`), 2, nil},
		{"format", attrFormat, num(Format + 1), Format + 1, nil},
		{"tail truncated", attrTail, bin([]byte{1, 2, 3}), 2, nil},
		{"tail not binary", attrTail, str("x"), 2, nil},
		{"manifest garbage", attrChunks, bin([]byte{9, 9}), 2, nil},
		{"chunk missing", attrChunks, bin(goodManifest), 2, func() {
			client.DeleteItem(ctx(t), &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{attrPK: str(chunkKey(audit, 0))}})
		}},
		{"chunk of another generation", attrChunks, bin(goodManifest), 2, func() { putChunk(4, 2) }},
		{"chunk shorter than the manifest says", attrChunks, bin(goodManifest), 2, func() { putChunk(3, 1) }},
	} {
		item := map[string]types.AttributeValue{
			attrVersion:   num(3),
			attrFormat:    num(c.format),
			attrUpdatedAt: str(time.Now().Format(time.RFC3339Nano)),
		}
		for k, v := range lease {
			item[k] = v
		}
		item[c.attr] = c.value
		if _, err := client.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
		if c.setup != nil {
			c.setup()
		}
		_, err := l.Load(ctx(t))
		if !errors.Is(err, state.ErrCorrupt) {
			t.Fatalf("%s: Load = %v, want ErrCorrupt", c.name, err)
		}
		if want := c.attr; c.setup == nil && c.name != "format" && !strings.Contains(err.Error(), want) && !strings.Contains(err.Error(), attrFormat) {
			t.Fatalf("%s: Load = %v, want the attribute named", c.name, err)
		}
	}
	// A well-formed chunk makes the same head load.
	putChunk(3, 2)
	item := map[string]types.AttributeValue{attrVersion: num(3), attrFormat: num(Format), attrUpdatedAt: str(time.Now().Format(time.RFC3339Nano)), attrChunks: bin(goodManifest)}
	for k, v := range lease {
		item[k] = v
	}
	client.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	if rec, err := l.Load(ctx(t)); err != nil || len(rec.Seen) != 2 {
		t.Fatalf("Load of a good chunk: %d keys, %v", len(rec.Seen), err)
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

// TestReadsFormat1Items: items written before dedup keys became digests
// keep working. Their keys are read and digested (so they still suppress
// the same events), times rounded up to the second; the next commit
// rewrites the item in the current format.
func TestReadsFormat1Items(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, moto.Endpoint)
	table := newTable(t, client)
	s := New(client, table)
	l, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "a", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx(t))
	item := getItem(t, client, table, audit)
	item[attrFormat] = num(1)
	item[attrVersion] = num(7)
	item[attrCursor] = str(`{"cursor":"c1"}`)
	item[attrUpdatedAt] = str("2026-03-02T08:00:00Z")
	item[attrSeen] = &types.AttributeValueMemberL{Value: []types.AttributeValue{
		str(`1772409599.000000005 q"<&> with space`), str("1772409599 b"), str("-62135596800 zero"),
	}}
	if _, err := client.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	rec, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []state.Seen{
		{Digest: state.KeyDigest(`q"<&> with space`), At: time.Unix(1772409600, 0)},
		{Digest: state.KeyDigest("b"), At: time.Unix(1772409599, 0)},
		{Digest: state.KeyDigest("zero")},
	}
	if rec.Version != 7 || string(rec.Cursor) != `{"cursor":"c1"}` || len(rec.Seen) != len(want) {
		t.Fatalf("record %+v", rec)
	}
	for i := range want {
		if rec.Seen[i].Digest != want[i].Digest || !rec.Seen[i].At.Equal(want[i].At) {
			t.Fatalf("Seen[%d] = %x at %s, want %x at %s", i, rec.Seen[i].Digest, rec.Seen[i].At, want[i].Digest, want[i].At)
		}
	}
	if _, err := l.Commit(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	item = getItem(t, client, table, audit)
	if _, ok := item[attrSeen]; ok || nAttr(t, item, attrFormat) != Format {
		t.Fatalf("after a commit the item is still in format 1: %v", item)
	}
	again, err := l.Load(ctx(t))
	if err != nil || len(again.Seen) != 3 || again.Seen[0].Digest != want[0].Digest || again.Version != 8 {
		t.Fatalf("reload: %+v, %v", again, err)
	}
}

// TestChunkRetention: a dedup chunk in use is written again once half its
// retention passed; a stream that did not commit for the whole retention
// forgets the chunk's keys, decided from the stored write time even
// though the item still exists (DynamoDB TTL may delete it any time after).
func TestChunkRetention(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client := awstest.DynamoDB(t, moto.Endpoint)
	table := newTable(t, client)
	clk := newClock()
	s := New(client, table, WithClock(clk.Now), WithChunkRetention(10*24*time.Hour))
	lock := func() state.Lease {
		l, err := s.Lock(ctx(t), audit, state.LockOptions{Owner: "a", TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := lock()
	rec := state.Record{Seen: seenRange("r", 0, 2000, clk.Now())}
	v, err := l.Commit(ctx(t), rec)
	if err != nil {
		t.Fatal(err)
	}
	rec.Version = v
	first := l.(*lease).layout.man.chunks
	if len(first) == 0 {
		t.Fatal("no chunk written")
	}
	l.Release(ctx(t))

	// Four days later the chunks are kept as they are.
	clk.Advance(4 * 24 * time.Hour)
	l = lock()
	if rec, err = l.Load(ctx(t)); err != nil || len(rec.Seen) != 2000 {
		t.Fatalf("Load after 4 days: %d keys, %v", len(rec.Seen), err)
	}
	if rec.Version, err = l.Commit(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	if got := l.(*lease).layout.man.chunks; got[0].slot != first[0].slot {
		t.Fatalf("a 4-day-old chunk was rewritten: %+v -> %+v", first, got)
	}
	l.Release(ctx(t))

	// Past half the retention, the next commit writes them again.
	clk.Advance(2 * 24 * time.Hour)
	l = lock()
	if rec, err = l.Load(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if rec.Version, err = l.Commit(ctx(t), rec); err != nil {
		t.Fatal(err)
	}
	refreshed := l.(*lease).layout.man.chunks
	for _, c := range refreshed {
		if c.written != hoursOf(clk.Now()) {
			t.Fatalf("chunk %+v not rewritten after 6 of 10 days", c)
		}
	}
	l.Release(ctx(t))

	// A stream that then does not commit for the whole retention forgets
	// them, although the items are still there.
	clk.Advance(10 * 24 * time.Hour)
	l = lock()
	defer l.Release(ctx(t))
	got, err := l.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Seen) != 0 || got.Version != rec.Version {
		t.Fatalf("after the retention: %d keys at version %d, want none at %d", len(got.Seen), got.Version, rec.Version)
	}
	if item := getItemKey(t, client, table, chunkKey(audit, refreshed[0].slot)); len(item) == 0 {
		t.Fatal("the chunk item is gone; the test proves nothing")
	}
	// The next commit drops them from the head.
	got.Cursor = json.RawMessage(`{"c":1}`)
	if _, err := l.Commit(ctx(t), got); err != nil {
		t.Fatal(err)
	}
	if _, ok := getItem(t, client, table, audit)[attrChunks]; ok {
		t.Fatal("forgotten chunks still referenced")
	}
}
