package dynamostore

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// meter computes what DynamoDB on demand bills for the store's writes from
// the sizes of the items before and after each operation (moto does not
// bill): an UpdateItem costs one unit per started KB of the larger of the
// two.
type meter struct {
	t      *testing.T
	client *dynamodb.Client
	calls  *recorder
	table  string
	key    state.Key
}

func (m *meter) size(pk string) int {
	out, err := m.client.GetItem(ctx(m.t), &dynamodb.GetItemInput{TableName: &m.table, Key: map[string]types.AttributeValue{attrPK: str(pk)}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		m.t.Fatal(err)
	}
	if len(out.Item) == 0 {
		return 0
	}
	return ItemSize(out.Item)
}

func (m *meter) manifest() manifest {
	out, err := m.client.GetItem(ctx(m.t), &dynamodb.GetItemInput{TableName: &m.table, Key: headKey(m.key), ConsistentRead: aws.Bool(true)})
	if err != nil {
		m.t.Fatal(err)
	}
	b, ok := out.Item[attrChunks].(*types.AttributeValueMemberB)
	if !ok {
		return manifest{}
	}
	man, err := decodeManifest(b.Value)
	if err != nil {
		m.t.Fatal(err)
	}
	return man
}

// cost runs op and returns the write units it used, the head's size after
// it and the bytes of new chunks.
func (m *meter) cost(op func()) (wru, headAfter, chunkBytes int) {
	m.t.Helper()
	headBefore := m.size(m.key.String())
	before := m.manifest()
	m.calls.take()
	op()
	calls := m.calls.take()
	headAfter = m.size(m.key.String())
	wru = writeUnits(max(headBefore, headAfter))
	writes := 1
	for _, c := range m.manifest().chunks {
		if slices.ContainsFunc(before.chunks, func(b chunkRef) bool { return b.slot == c.slot }) {
			continue // kept: not written
		}
		// A new slot: the item did not exist before.
		size := m.size(chunkKey(m.key, c.slot))
		wru += writeUnits(size)
		chunkBytes += size
		writes++
	}
	if len(calls) != writes || slices.ContainsFunc(calls, func(c string) bool { return c != "UpdateItem" }) {
		m.t.Fatalf("operation sent %v, want %d UpdateItem", calls, writes)
	}
	return wru, headAfter, chunkBytes
}

// readUnits is what a strongly consistent Load costs: one unit per
// started 4 KB of each item read.
func (m *meter) readUnits() int {
	ru := (m.size(m.key.String()) + 4095) / 4096
	for _, c := range m.manifest().chunks {
		ru += (m.size(chunkKey(m.key, c.slot)) + 4095) / 4096
	}
	return ru
}

// TestWriteUnitsPerCommit measures, from item sizes, what a quiet and a
// busy stream cost per commit and per lease operation. These are the
// figures of the package documentation and infra/README.md.
func TestWriteUnitsPerCommit(t *testing.T) {
	moto := awstest.SharedMoto(t)
	client, calls := recordingClient(t, moto.Endpoint)
	table := newTable(t, client)
	s := New(client, table)
	// A lease owner as long as lambdarun's: log stream name and request id.
	owner := "2026/03/02/[$LATEST]0123456789abcdef0123456789abcdef/8f5c2a1e-4b7d-4e0a-9c3f-2d6b1a7e9f04"
	cursor := func(i int) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"cursor":"aGVsbG8tc3ludGhldGljLWN1cnNvci0wMDEtMTIzNDU2Nzg5MGFiY2RlZg-%06d","last_ts":"2026-03-02T08:%02d:41.118273645Z"}`, i, i%60))
	}
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

	// Quiet: a 1Password stream with a few events per run.
	quiet := &meter{t: t, client: client, calls: calls, table: table, key: state.Key{Tenant: "acme", Vendor: "1password", Stream: "signin"}}
	var l state.Lease
	lockWRU, _, _ := quiet.cost(func() {
		var err error
		if l, err = s.Lock(ctx(t), quiet.key, state.LockOptions{Owner: owner}); err != nil {
			t.Fatal(err)
		}
	})
	rec := state.Record{Cursor: cursor(0), Seen: seenRange("q", 0, 20, base)}
	var v int64
	commit := func(m *meter) (int, int, int) {
		return m.cost(func() {
			var err error
			if v, err = l.Commit(ctx(t), rec); err != nil {
				t.Fatal(err)
			}
			rec.Version = v
		})
	}
	commit(quiet)
	var quietNone, quietFew, quietHead int
	for i := 1; i <= 4; i++ {
		rec.Cursor = cursor(i)
		wru, head, _ := commit(quiet) // nothing new but the cursor
		quietNone = max(quietNone, wru)
		rec.Seen = append(rec.Seen[2:], seenRange("q", 20+2*i, 2, base)...)
		wru, head2, _ := commit(quiet) // two new keys, two aged out
		quietFew = max(quietFew, wru)
		quietHead = max(quietHead, head, head2)
	}
	renewWRU, _, _ := quiet.cost(func() {
		if err := l.Renew(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
	releaseWRU, _, _ := quiet.cost(func() { l.Release(ctx(t)) })
	t.Logf("quiet stream (20 keys inline): Lock %d WRU, Renew %d, Release %d; commit with no new key %d WRU, with 2 new keys %d WRU; head %d bytes",
		lockWRU, renewWRU, releaseWRU, quietNone, quietFew, quietHead)
	if lockWRU != 1 || renewWRU != 1 || releaseWRU != 1 || quietNone != 1 || quietFew != 1 || quietHead > headTarget {
		t.Errorf("a quiet stream must cost 1 WRU per lease operation and per commit")
	}

	// Busy: a 30 000-key set (a 30-minute overlap at about 17 events a
	// second), 1 000 new keys per page, the 1 000 oldest aging out.
	busy := &meter{t: t, client: client, calls: calls, table: table, key: state.Key{Tenant: "acme", Vendor: "proofpoint", Stream: "messages"}}
	step := 60 * time.Millisecond
	busyKeys := func(from, n int) []state.Seen {
		out := make([]state.Seen, n)
		for i := range out {
			out[i] = state.Seen{Digest: state.KeyDigest(fmt.Sprint("msg-", from+i)), At: base.Add(time.Duration(from+i) * step)}
		}
		return out
	}
	l, err := s.Lock(ctx(t), busy.key, state.LockOptions{Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	rec = state.Record{Cursor: cursor(0), Seen: busyKeys(0, 30_000)}
	firstWRU, _, firstBytes := commit(busy)
	next := 30_000
	var total, commits, maxWRU, newBytes, head int
	for i := 1; i <= 7; i++ {
		rec.Cursor = cursor(i)
		rec.Seen = append(rec.Seen[1000:len(rec.Seen):len(rec.Seen)], busyKeys(next, 1000)...)
		next += 1000
		wru, h, b := commit(busy)
		if i > 2 { // steady state
			total += wru
			commits++
			maxWRU = max(maxWRU, wru)
			newBytes += b
			head = max(head, h)
		}
	}
	renewWRU, _, _ = busy.cost(func() {
		if err := l.Renew(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := l.Load(ctx(t)); err != nil {
		t.Fatal(err)
	}
	chunks := len(busy.manifest().chunks)
	rru := busy.readUnits()
	releaseWRU, _, _ = busy.cost(func() { l.Release(ctx(t)) })
	lockWRU, _, _ = busy.cost(func() {
		if l, err = s.Lock(ctx(t), busy.key, state.LockOptions{Owner: owner}); err != nil {
			t.Fatal(err)
		}
	})
	l.Release(ctx(t))
	avg := float64(total) / float64(commits)
	t.Logf("busy stream (30 000 keys, 1 000 new per commit): first commit of 30 000 keys %d WRU (%d bytes of chunks); steady state %.1f WRU per commit on average, at most %d (%.0f bytes of new chunks per commit); Lock %d WRU, Renew %d, Release %d; head %d bytes, %d chunks; Load %d RRU",
		firstWRU, firstBytes, avg, maxWRU, float64(newBytes)/float64(commits), lockWRU, renewWRU, releaseWRU, head, chunks, rru)
	// 1 000 keys take about 17 KB: one unit per KB, plus one for the head.
	if avg > 20 || maxWRU > 22 || lockWRU != 1 || renewWRU != 1 || releaseWRU != 1 || head > headTarget {
		t.Errorf("a busy stream costs more than it should")
	}
}
