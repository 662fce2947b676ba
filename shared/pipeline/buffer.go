package pipeline

import "context"

// A page's body is the largest buffer a run uses, and the first time a
// process touches memory is its most expensive (a page fault per 4 KiB,
// far slower on virtual machines than reading the page). So the Runner
// keeps one body buffer and lends it to each stream in turn, through the
// Fetch context, instead of letting every stream grow its own.

type bodyBufferKey struct{}

// BodyBuffer returns the buffer the stream being fetched should read its
// response bodies into: read into (*b)[:0] and store the buffer used back
// in *b. It is lent for one Fetch: the items of the page may point into
// it until the stream's next Fetch, and nothing else the source keeps may,
// since other streams use it between two Fetches of a stream (a stream
// that waits for another turn of the run, see Runner.Run). Outside a
// pipeline run it is nil: keep a buffer of your own.
func BodyBuffer(ctx context.Context) *[]byte {
	b, _ := ctx.Value(bodyBufferKey{}).(*[]byte)
	return b
}

func withBodyBuffer(ctx context.Context, b *[]byte) context.Context {
	return context.WithValue(ctx, bodyBufferKey{}, b)
}

// The items of a page are the next largest: a slice of a page limit's
// worth of Items, which every stream would otherwise grow by doubling on
// its own (three streams, three slices, a megabyte of fresh memory). The
// Runner lends one, like the body buffer.

type itemsBufferKey struct{}

// ItemsBuffer returns the slice the stream being fetched should build its
// page's items in: append to (*b)[:0] and store the slice used back in
// *b. Like BodyBuffer, it is lent for one Fetch (a source keeps no items
// in it for a later Fetch), and is nil outside a pipeline run.
func ItemsBuffer(ctx context.Context) *[]Item {
	b, _ := ctx.Value(itemsBufferKey{}).(*[]Item)
	return b
}

func withItemsBuffer(ctx context.Context, b *[]Item) context.Context {
	return context.WithValue(ctx, itemsBufferKey{}, b)
}
