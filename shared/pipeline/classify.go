package pipeline

import (
	"context"

	"github.com/wazuh-pull/wazuh-pull/shared/event"
	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

// The copy path (a clean event copied into its line instead of rebuilt) is
// most of the pipeline's speed, and it is only taken when an item was
// classified under exactly the options of the stream's builder. Those
// options depend on the envelope and the epoch fields the run was
// configured with, which a source cannot be trusted to repeat, so the
// pipeline hands them to the source with every Fetch, and counts and logs
// the items that still arrive without a usable classification.

type scanOptionsKey struct{}

// ScanOptions returns the classification options of the stream being
// fetched: pass them to jsonscan.ScanArray in Fetch and put the Class in
// Item.Scan. Outside a pipeline run (a test calling Fetch directly) it is
// nil, and ScanArray then classifies for no builder.
func ScanOptions(ctx context.Context) *jsonscan.Options {
	o, _ := ctx.Value(scanOptionsKey{}).(*jsonscan.Options)
	return o
}

func withScanOptions(ctx context.Context, o *jsonscan.Options) context.Context {
	return context.WithValue(ctx, scanOptionsKey{}, o)
}

// appendItem builds the line of one item: copied when the source
// classified it under the builder's options and it is clean, rebuilt
// otherwise. Items without a usable classification are counted in
// Result.Unclassified and reported once per stream.
func (sr *streamRun) appendItem(buf []byte, it *Item) ([]byte, event.Info, error) {
	opts := sr.b.ScanOptions()
	switch {
	case it.Scan.Opts == opts || it.Scan.Opts != nil && it.Scan.Opts.Equal(opts):
		buf, info, err := sr.b.AppendClassified(buf, it.Raw, it.Scan, it.Type, it.Key)
		if info.Copied {
			sr.res.Copied++
		}
		return buf, info, err
	case it.Scan.Opts == nil:
		sr.unclassified("the source did not classify its items (use jsonscan.ScanArray with pipeline.ScanOptions(ctx))")
	default:
		sr.unclassified("the source classified its items under other options than the stream's (use pipeline.ScanOptions(ctx))")
	}
	return sr.b.Append(buf, it.Raw, it.Type, it.Key)
}

func (sr *streamRun) unclassified(why string) {
	if sr.res.Unclassified == 0 {
		sr.log.Warn("events are rebuilt instead of copied, which is several times slower: "+why, "stream", sr.s.Name)
	}
	sr.res.Unclassified++
}
