// Package event builds the JSON lines Wazuh receives: the seed wodles'
// envelope {"integration":"…","<ns>":{…vendor fields…,"event_type":"…"}},
// plus our metadata, with every line kept under Wazuh's size and field
// limits (docs/wazuh.md says where they come from).
package event

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

// Seed-compatible event types shared by every vendor.
const (
	TypeError      = "error"
	TypeRunSummary = "run_summary"
)

// MetaKey is the object under the namespace that holds our metadata. No
// vendor uses it, so it cannot clash with a vendor field.
const MetaKey = "wazuh_pull"

// MaxFields is Wazuh's default analysisd.decoder_order_size: fields beyond
// it are dropped by the JSON decoder.
const MaxFields = 256

// minLine is the smallest line budget that still fits the envelope, the
// metadata and a reduction marker.
const minLine = 1024

// Envelope names a vendor integration the way the seed wodles did.
type Envelope struct {
	Integration string // "1password", "proofpoint", "cortex_xdr"
	Namespace   string // "op", "pp", "xdr"
	// TypeKey is the member that carries the event type (default
	// "event_type"; the Cortex XDR seed used "type").
	TypeKey string
	// SourceKey is the member of error and run_summary events that names
	// the stream or "orchestrator" (default "source"; the Cortex XDR seed
	// used "error_source").
	SourceKey string
	// UnsetEpochLists renders the epoch-millisecond fields the way the
	// Cortex XDR seed did: zero means unset and is dropped, and lists of
	// times are converted element by element (jsonscan.Options).
	UnsetEpochLists bool
}

// Default member names of an Envelope.
const (
	DefaultTypeKey   = "event_type"
	DefaultSourceKey = "source"
)

// Type is the member that carries the event type.
func (e Envelope) Type() string {
	if e.TypeKey == "" {
		return DefaultTypeKey
	}
	return e.TypeKey
}

// Source is the member of error and summary events that names the stream.
func (e Envelope) Source() string {
	if e.SourceKey == "" {
		return DefaultSourceKey
	}
	return e.SourceKey
}

// ScanOptions are the reshaping options of a builder for this envelope
// whose vendor fields epochMillis hold epoch milliseconds. A source that
// classifies events with them (jsonscan.ScanArray) lets the builder copy
// clean events as they are. Sources run by the pipeline take them from
// pipeline.ScanOptions instead, which cannot disagree with the builder.
func (e Envelope) ScanOptions(epochMillis []string) jsonscan.Options {
	return jsonscan.Options{DropTopLevel: []string{e.Type(), MetaKey}, EpochMillis: epochMillis, UnsetEpochLists: e.UnsetEpochLists}
}

// Meta is the per-stream metadata added to every line.
type Meta struct {
	Tenant string
	Stream string
	RunID  string
}

// Config configures a Builder.
type Config struct {
	Envelope Envelope
	Meta     Meta
	// MaxLine is the largest JSON text in bytes, not counting '\n'. Callers
	// pass the sink's line limit minus the sink's per-line overhead.
	MaxLine int
	// MaxFields bounds the decoded field count (default MaxFields).
	MaxFields int
	// EpochMillis names vendor fields holding epoch milliseconds.
	EpochMillis []string
}

// Builder turns vendor events into lines. It is not safe for concurrent use;
// make one per stream.
type Builder struct {
	cfg       Config
	prefix    []byte // {"integration":"…","<ns>":
	metaPre   []byte // "wazuh_pull":{"tenant":…,"stream":…,"run_id":…,"dedup_key":
	typePre   []byte // "event_type":
	opts      jsonscan.Options
	scratch   []byte
	reduceBuf []byte
}

// Info describes one built line.
type Info struct {
	// Reduced is true when the event had to be cut to fit Wazuh's limits.
	Reduced bool
	// Bytes is the line length without '\n'.
	Bytes int
	// Copied is true when the event was copied into its line as it came
	// (AppendClassified's fast path) rather than rebuilt.
	Copied bool
}

// NewBuilder checks cfg and precomputes the constant parts of every line.
func NewBuilder(cfg Config) (*Builder, error) {
	if cfg.Envelope.Integration == "" || cfg.Envelope.Namespace == "" {
		return nil, errors.New("event: envelope needs an integration and a namespace")
	}
	if cfg.MaxFields == 0 {
		cfg.MaxFields = MaxFields
	}
	if cfg.MaxLine < minLine {
		return nil, fmt.Errorf("event: maximum line length %d is below the minimum %d", cfg.MaxLine, minLine)
	}
	b := &Builder{cfg: cfg}
	b.prefix = append(b.prefix, `{"integration":`...)
	b.prefix = appendString(b.prefix, cfg.Envelope.Integration)
	b.prefix = append(b.prefix, ',')
	b.prefix = appendString(b.prefix, cfg.Envelope.Namespace)
	b.prefix = append(b.prefix, ':')
	b.metaPre = appendString(b.metaPre, MetaKey)
	b.metaPre = append(b.metaPre, `:{"tenant":`...)
	b.metaPre = appendString(b.metaPre, cfg.Meta.Tenant)
	b.metaPre = append(b.metaPre, `,"stream":`...)
	b.metaPre = appendString(b.metaPre, cfg.Meta.Stream)
	b.metaPre = append(b.metaPre, `,"run_id":`...)
	b.metaPre = appendString(b.metaPre, cfg.Meta.RunID)
	b.metaPre = append(b.metaPre, `,"dedup_key":`...)
	b.opts = cfg.Envelope.ScanOptions(cfg.EpochMillis)
	b.typePre = appendString(nil, cfg.Envelope.Type())
	b.typePre = append(b.typePre, ':')
	return b, nil
}

// ScanOptions are the scan options of the default envelope (see
// Envelope.ScanOptions).
func ScanOptions(epochMillis []string) jsonscan.Options {
	return Envelope{}.ScanOptions(epochMillis)
}

// AppendClassified is Append for an event that jsonscan.ScanArray already
// validated and classified. A clean event classified under this builder's
// options is copied instead of rebuilt, and so is one whose only changes
// are members to drop (jsonscan.Class.Holes); anything else goes through
// Append.
func (b *Builder) AppendClassified(dst, raw []byte, c jsonscan.Class, eventType, dedupKey string) ([]byte, Info, error) {
	if !c.Copyable() || len(raw) == 0 || raw[0] != '{' || !c.Opts.Equal(&b.opts) {
		return b.Append(dst, raw, eventType, dedupKey)
	}
	start := len(dst)
	dst = append(dst, b.prefix...)
	objStart := len(dst)
	// A clean event is copied as it is; one whose only changes are null
	// or empty members to drop is copied around them.
	dst = c.AppendCopy(dst, raw)
	dst = b.appendTail(dst, objStart, eventType, dedupKey, nil)
	if len(dst)-start <= b.cfg.MaxLine && c.Fields+overheadFields <= b.cfg.MaxFields {
		dst = append(dst, '\n')
		return dst, Info{Bytes: len(dst) - start - 1, Copied: true}, nil
	}
	return b.Append(dst[:start], raw, eventType, dedupKey)
}

// LineOverhead is what a line adds to its vendor event besides the dedup
// key: the envelope, event_type, the metadata and the newline (the
// longest event type of the package is allowed for).
func (b *Builder) LineOverhead() int {
	return len(b.prefix) + len(b.typePre) + len(b.metaPre) + 32 + 3 + 3 + 1
}

// ScanOptions returns the options this builder reshapes events with, the
// ones a classification must have been made under for AppendClassified to
// copy. The pipeline hands them to sources (pipeline.ScanOptions); callers
// must not modify them.
func (b *Builder) ScanOptions() *jsonscan.Options { return &b.opts }

// Envelope returns the builder's envelope.
func (b *Builder) Envelope() Envelope { return b.cfg.Envelope }

// overheadFields counts "integration", "event_type" and the four metadata
// fields that every line carries besides the vendor's.
const overheadFields = 6

// Append adds one line ('\n'-terminated) for the vendor event raw (a JSON
// object) to dst. The event keeps its fields minus nulls and empty strings,
// gains event_type and our metadata, and is reduced deterministically when
// it would exceed the line or field limit. An error means raw is not a
// valid JSON object; dst is then returned unchanged.
func (b *Builder) Append(dst, raw []byte, eventType, dedupKey string) ([]byte, Info, error) {
	start := len(dst)
	dst = append(dst, b.prefix...)
	objStart := len(dst)
	dst, n, res, err := jsonscan.Strip(dst, raw, &b.opts)
	if err != nil {
		return dst[:start], Info{}, fmt.Errorf("event: %w", err)
	}
	for _, c := range raw[n:] {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return dst[:start], Info{}, fmt.Errorf("event: %w", &jsonscan.SyntaxError{Offset: n, Msg: "data after the event object"})
		}
	}
	objEnd := len(dst)
	dst = b.appendTail(dst, objStart, eventType, dedupKey, nil)
	if len(dst)-start <= b.cfg.MaxLine && res.Fields+overheadFields <= b.cfg.MaxFields {
		dst = append(dst, '\n')
		return dst, Info{Bytes: len(dst) - start - 1}, nil
	}
	// Rare path: rebuild the event from a tree and cut it down. The tail
	// overwrote the vendor object's closing brace, so restore it.
	vendor := append(b.reduceBuf[:0], dst[objStart:objEnd-1]...)
	vendor = append(vendor, '}')
	b.reduceBuf = vendor
	original := len(dst) - start
	dst, err = b.reduce(dst[:start], vendor, original, res.Fields+overheadFields, eventType, dedupKey)
	if err != nil {
		return dst[:start], Info{}, err
	}
	dst = append(dst, '\n')
	return dst, Info{Reduced: true, Bytes: len(dst) - start - 1}, nil
}

// appendTail closes the vendor object that starts at objStart in dst with
// event_type and the metadata, then closes the envelope. The vendor object
// must end with '}'.
func (b *Builder) appendTail(dst []byte, objStart int, eventType, dedupKey string, marker []byte) []byte {
	dst = dst[:len(dst)-1] // reopen the vendor object
	if len(dst)-objStart > 1 {
		dst = append(dst, ',')
	}
	dst = append(dst, b.typePre...)
	dst = appendString(dst, eventType)
	dst = append(dst, ',')
	dst = append(dst, b.metaPre...)
	dst = appendString(dst, dedupKey)
	if marker != nil {
		dst = append(dst, `,"reduced":`...)
		dst = append(dst, marker...)
	}
	return append(dst, "}}}"...)
}

// Fields is an ordered list of key/value pairs for events we compose
// ourselves (errors, run summaries); values are strings, bools, integers,
// nested Fields or nil (dropped like the seed drops None).
type Fields []Field

// Field is one member of Fields.
type Field struct {
	Key   string
	Value any
}

// AppendFields builds a line from our own fields, with the same envelope,
// stripping and limits as vendor events.
func (b *Builder) AppendFields(dst []byte, f Fields, eventType, dedupKey string) ([]byte, Info, error) {
	raw := appendFields(b.scratch[:0], f)
	b.scratch = raw
	return b.Append(dst, raw, eventType, dedupKey)
}

func appendFields(dst []byte, f Fields) []byte {
	dst = append(dst, '{')
	for i, fl := range f {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, fl.Key)
		dst = append(dst, ':')
		switch v := fl.Value.(type) {
		case nil:
			dst = append(dst, "null"...)
		case string:
			dst = appendString(dst, v)
		case bool:
			dst = strconv.AppendBool(dst, v)
		case int:
			dst = strconv.AppendInt(dst, int64(v), 10)
		case int64:
			dst = strconv.AppendInt(dst, v, 10)
		case Fields:
			dst = appendFields(dst, v)
		case time.Time:
			dst = appendString(dst, SeedTime(v))
		default:
			dst = appendString(dst, fmt.Sprint(v))
		}
	}
	return append(dst, '}')
}

// SeedTime formats t as the seed wodles did (UTC, second precision, "Z").
func SeedTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// appendString appends s as a JSON string. Only what JSON requires is
// escaped (quotes, backslashes, control characters); invalid UTF-8 becomes
// U+FFFD so a line is always valid, and so does NUL, at which Wazuh's JSON
// parser would end the string (as jsonscan.Strip does for vendor text).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case 0:
				dst = append(dst, `\ufffd`...)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"
