package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// writeFailSink fails its failOn-th Write, as a sink whose connection the
// relay reset does.
type writeFailSink struct {
	memSink
	failOn int
	n      int
}

func (w *writeFailSink) Write(ctx context.Context, b []byte) error {
	w.n++
	if w.n == w.failOn {
		return errors.New("connection reset by peer")
	}
	return w.memSink.Write(ctx, b)
}

// failCommitStore fails every commit, as a throttled state table does.
type failCommitStore struct{ state.Store }

func (s failCommitStore) Lock(ctx context.Context, k state.Key, o state.LockOptions) (state.Lease, error) {
	l, err := s.Store.Lock(ctx, k, o)
	return failCommitLease{l}, err
}

type failCommitLease struct{ state.Lease }

func (failCommitLease) Commit(context.Context, state.Record) (int64, error) {
	return 0, errors.New("ProvisionedThroughputExceededException")
}

// A stream that stops on an error while the vendor still had events, or
// with fetched events undelivered, reports a backlog: the scheduler and the
// operator must not read "backlog: false" as "nothing waits".
func TestErrorStopsReportTheBacklog(t *testing.T) {
	confirmFails := func() sink.Sink { return &memSink{confirmErr: errors.New("peer reset")} }
	firstWriteFails := func() sink.Sink { return &writeFailSink{failOn: 1} }
	healthy := func() sink.Sink { return &memSink{} }
	cases := []struct {
		name        string
		sink        func() sink.Sink
		src         *pagedSource
		failCommits bool
		code        string
		backlog     bool
	}{
		// 17 more pages wait at the vendor when the first confirmation fails.
		{"confirm fails, vendor has more", confirmFails, &pagedSource{n: 180, size: 10}, false, CodeDeliveryFailed, true},
		// The vendor said it had no more, but the page itself was not delivered.
		{"confirm fails on the last page", confirmFails, &pagedSource{n: 5, size: 10}, false, CodeDeliveryFailed, true},
		{"write fails, vendor has more", firstWriteFails, &pagedSource{n: 180, size: 10}, false, CodeDeliveryFailed, true},
		{"write fails on the last page", firstWriteFails, &pagedSource{n: 5, size: 10}, false, CodeDeliveryFailed, true},
		{"fetch fails after a page with more", healthy, &pagedSource{n: 180, size: 10, failAt: 2}, false, CodeHTTP500, true},
		{"commit fails, vendor has more", healthy, &pagedSource{n: 180, size: 10}, true, CodeStateWrite, true},
		// Delivered, and the vendor said that was all: nothing waits.
		{"commit fails on the last page", healthy, &pagedSource{n: 5, size: 10}, true, CodeStateWrite, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var store state.Store = newStore(t)
			if c.failCommits {
				store = failCommitStore{store}
			}
			r, err := New(Config{Envelope: event.Envelope{Integration: "1password", Namespace: "op"}, RunID: "run-1", Store: store, Sink: c.sink()})
			if err != nil {
				t.Fatal(err)
			}
			res := r.Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: c.src}})[0]
			if res.Success || res.Stop != StopError || len(res.Errors) == 0 || res.Errors[0] != c.code {
				t.Fatalf("want an error stop with %s, got %+v", c.code, res)
			}
			if res.Backlog != c.backlog {
				t.Fatalf("backlog = %v, want %v (%+v)", res.Backlog, c.backlog, res)
			}
		})
	}
}

// A failed delivery is reported once per stream: the stream's end tries to
// deliver the error event again, and that attempt failing too is not a
// second failure to report.
func TestDeliveryFailureReportedOnce(t *testing.T) {
	for _, c := range []struct {
		name string
		sink *memSink
		mk   func(*memSink) sink.Sink
	}{
		{"confirm fails", &memSink{confirmErr: errors.New("peer reset")}, func(m *memSink) sink.Sink { return m }},
		{"write fails", nil, func(*memSink) sink.Sink {
			return &writeFailSink{failOn: 2, memSink: memSink{confirmErr: errors.New("peer reset")}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(Config{Envelope: event.Envelope{Integration: "1password", Namespace: "op"}, RunID: "run-1", Store: newStore(t), Sink: c.mk(c.sink), ConfirmPages: 2})
			if err != nil {
				t.Fatal(err)
			}
			res := r.Run(context.Background(), []Stream{{Key: key("audit"), Name: "audit", Source: &pagedSource{n: 50, size: 10}}})[0]
			n := 0
			for _, code := range res.Errors {
				if code == CodeDeliveryFailed {
					n++
				}
			}
			if n != 1 {
				t.Errorf("errors %v: DELIVERY_FAILED %d times, want once", res.Errors, n)
			}
		})
	}
}
