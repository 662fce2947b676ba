package pipeline

import (
	"context"
	"fmt"
	"testing"
)

// lendingSource is pagedSource building its items in the slice the Runner
// lends (ItemsBuffer), as the vendor sources do, and recording the array
// each page used.
type lendingSource struct {
	pagedSource
	arrays []*Item
}

func (l *lendingSource) Fetch(ctx context.Context) (*Page, error) {
	page, err := l.pagedSource.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	lent := ItemsBuffer(ctx)
	if lent == nil {
		return nil, fmt.Errorf("no items buffer lent")
	}
	items := append((*lent)[:0], page.Items...)
	*lent = items[:0]
	page.Items = items
	l.arrays = append(l.arrays, &items[:1][0])
	return page, nil
}

func TestStreamsShareTheLentItemsBuffer(t *testing.T) {
	sink := &memSink{}
	a := &lendingSource{pagedSource: pagedSource{n: 25, size: 10}}
	b := &lendingSource{pagedSource: pagedSource{n: 7, size: 10}}
	res := newRunner(t, sink, newStore(t), Budget{}).Run(context.Background(), []Stream{
		{Key: key("audit"), Name: "audit", Source: a},
		{Key: key("signin"), Name: "signin", Source: b},
	})
	for _, r := range res {
		if !r.Success || r.Stop != StopCaughtUp {
			t.Fatalf("result %+v", r)
		}
	}
	// Every page of both streams was built in the same array: a page never
	// outlives the next Fetch, so one is enough for the whole run.
	first := a.arrays[0]
	for i, p := range append(a.arrays, b.arrays...) {
		if p != first {
			t.Fatalf("page %d built in a new array: the buffer was not lent back", i)
		}
	}
	// And reusing it corrupted nothing: each line is its own event, once.
	lines := sink.lines(t)
	if len(lines) != 32 {
		t.Fatalf("%d lines, want 32", len(lines))
	}
	for i, l := range lines {
		want := i
		if i >= 25 {
			want = i - 25
		}
		if l["uuid"] != fmt.Sprintf("E%06d", want) {
			t.Fatalf("line %d is %v, want E%06d", i, l["uuid"], want)
		}
	}
}
