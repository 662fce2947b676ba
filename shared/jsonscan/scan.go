// Package jsonscan is the hot path from vendor JSON to Wazuh lines: a
// single-pass scanner that validates a JSON value and appends a reshaped
// copy of it (nulls and empty strings dropped, large integers quoted,
// epoch-millisecond fields turned into ISO 8601) without building maps.
//
// It exists because speed needs it: on 1Password pages encoding/json into
// maps managed about 25 000 events/s per core, valyala/fastjson about
// 200 000 and go-json-experiment's jsontext tokenizer about 300 000 before
// any reshaping; this scanner copies string bytes through unchanged and
// runs several times faster (see BenchmarkStrip). Its output is checked
// against encoding/json by differential fuzzing (FuzzStripMatchesReference).
//
// Strip and Skip first try a fast path for compact input (fast.go,
// skipfast.go) and fall back to the general walker, which stays the
// reference the fast paths are fuzzed against (FuzzStripFastMatchesGeneral,
// FuzzSkipFastMatchesGeneral); a Stripper adds memory of the previous
// record for pages of records of one shape (FuzzStripperMatchesGeneral).
package jsonscan

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"
)

// MaxDepth bounds nesting so hostile input cannot exhaust the stack.
const MaxDepth = 64

// SyntaxError reports malformed JSON with the byte offset of the problem.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// ErrSyntax is wrapped by every SyntaxError, for errors.Is.
var ErrSyntax = errors.New("invalid JSON")

// Is lets errors.Is(err, ErrSyntax) match any SyntaxError.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Options control the reshaping done by Strip.
type Options struct {
	// DropTopLevel lists keys removed from the top-level object (keys the
	// envelope sets itself, such as "event_type").
	DropTopLevel []string
	// EpochMillis names keys (at any depth) whose integer values are epoch
	// milliseconds, emitted as ISO 8601 UTC strings instead: Wazuh turns
	// integers beyond 32 bits into floats.
	EpochMillis []string
	// KeepBigInts disables quoting of integers outside the int32 range.
	KeepBigInts bool
	// UnsetEpochLists reads EpochMillis keys the way the Cortex XDR seed
	// did: an integer at or below zero means "unset" and is dropped like a
	// null; an array's positive integers are converted one by one and its
	// zero or negative integers dropped, and an array left empty is
	// dropped. Values that are not integers are kept as they came.
	UnsetEpochLists bool
	// Capture names up to two top-level members whose values Strip
	// locates in its output (Result.Captured), so a caller reads an
	// event's id and time without walking the event again. It does not
	// change the output.
	Capture [2]string
}

// Span locates a value in Strip's output: dst[Start:End]. End is 0 when
// the member is absent (or was dropped).
type Span struct{ Start, End int }

// Result describes what Strip produced.
type Result struct {
	// Fields is an upper bound of the fields Wazuh's JSON decoder makes of
	// the output: one per scalar and one per array.
	Fields int
	// Captured locates the values of Options.Capture in the returned dst.
	Captured [2]Span
}

type scanner struct {
	src    []byte
	pos    int
	dst    []byte
	opts   *Options
	fields int
	dirty  bool // the walker saw something Strip would change
	// escaped says that the string str last copied holds a backslash
	// (an escape, kept or written), so that it may not decode to itself.
	escaped bool
	// holes, when collecting, gathers the null and empty-string members
	// the walker saw (absolute offsets), which Strip drops and a copy can
	// leave out, instead of counting them as dirt.
	collecting bool
	holes      []Hole
	captured   [2]Span
}

func (s *scanner) fail(msg string) error {
	return &SyntaxError{Offset: s.pos, Msg: msg}
}

// Strip appends to dst a compact copy of the JSON object at the start of
// src with the seed wodles' emit rules applied: inside objects, members whose
// value is null or "" are dropped; inside arrays only nulls are dropped;
// empty objects and arrays are kept. Raw control characters and invalid
// UTF-8 inside strings are escaped or replaced so the output is always one
// valid line. It returns the extended dst, the number of bytes of src
// consumed and the field count.
func Strip(dst, src []byte, opts *Options) ([]byte, int, Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	pos := 0
	for pos < len(src) && (src[pos] == ' ' || src[pos] == '\t' || src[pos] == '\n' || src[pos] == '\r') {
		pos++
	}
	if pos < len(src) && src[pos] == '{' {
		if out, n, res, ok := stripFast(dst, src, pos, opts, nil); ok {
			return out, n, res, nil
		}
	}
	return stripSlow(dst, src, opts)
}

// stripSlow is Strip's general path: token by token, for any input.
// stripFast gives up to it, and tests hold the fast path to it.
func stripSlow(dst, src []byte, opts *Options) ([]byte, int, Result, error) {
	s := scanner{src: src, dst: dst, opts: opts}
	s.skipSpace()
	if s.pos >= len(s.src) || s.src[s.pos] != '{' {
		return dst, s.pos, Result{}, s.fail("expected an object")
	}
	if err := s.object(1); err != nil {
		return dst, s.pos, Result{}, err
	}
	return s.dst, s.pos, Result{Fields: s.fields, Captured: s.captured}, nil
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) object(depth int) error {
	if depth > MaxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++ // '{'
	s.dst = append(s.dst, '{')
	first := true
	s.skipSpace()
	if s.pos < len(s.src) && s.src[s.pos] == '}' {
		s.pos++
		s.dst = append(s.dst, '}')
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.src) || s.src[s.pos] != '"' {
			return s.fail("expected a member name")
		}
		keyStart := len(s.dst)
		if !first {
			s.dst = append(s.dst, ',')
		}
		nameStart := len(s.dst)
		if err := s.str(); err != nil {
			return err
		}
		name := s.dst[nameStart+1 : len(s.dst)-1] // escaped, as copied
		plain := !s.escaped                       // the copy holds no backslash
		s.skipSpace()
		if s.pos >= len(s.src) || s.src[s.pos] != ':' {
			return s.fail("expected ':'")
		}
		s.pos++
		s.skipSpace()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input")
		}
		drop := false
		if depth == 1 && s.listed(name, plain, s.opts.DropTopLevel) {
			drop = true
		}
		valStart := -1
		switch c := s.src[s.pos]; {
		case drop:
			if err := s.skipValue(depth); err != nil {
				return err
			}
			s.dst = s.dst[:keyStart]
		case c == 'n':
			if err := s.skipLiteral("null"); err != nil {
				return err
			}
			s.dst = s.dst[:keyStart]
		case c == '"' && s.pos+1 < len(s.src) && s.src[s.pos+1] == '"':
			s.pos += 2
			s.dst = s.dst[:keyStart]
		case (c == '-' || c >= '0' && c <= '9') && s.listed(name, plain, s.opts.EpochMillis):
			if s.opts.UnsetEpochLists {
				end, integer, err := s.scanNumber()
				if err != nil {
					return err
				}
				if integer && nonPositive(s.src[s.pos:end]) {
					s.pos = end
					s.dst = s.dst[:keyStart]
					break
				}
			}
			s.dst = append(s.dst, ':')
			valStart = len(s.dst)
			if err := s.epochMillis(); err != nil {
				return err
			}
			first = false
		case c == '[' && s.opts.UnsetEpochLists && s.listed(name, plain, s.opts.EpochMillis):
			s.dst = append(s.dst, ':')
			valStart = len(s.dst)
			kept, err := s.epochList(depth + 1)
			if err != nil {
				return err
			}
			if kept == 0 {
				s.dst = s.dst[:keyStart]
				break
			}
			first = false
		default:
			s.dst = append(s.dst, ':')
			valStart = len(s.dst)
			if err := s.value(depth); err != nil {
				return err
			}
			first = false
		}
		if depth == 1 && valStart >= 0 && len(s.dst) > valStart && (s.opts.Capture[0] != "" || s.opts.Capture[1] != "") {
			for k, c := range s.opts.Capture {
				if c != "" && (plain && string(name) == c || !plain && nameIs(name, c)) {
					s.captured[k] = Span{valStart, len(s.dst)}
				}
			}
		}
		s.skipSpace()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input in object")
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.dst = append(s.dst, '}')
			return nil
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

// Equal reports whether o and p reshape events identically.
func (o *Options) Equal(p *Options) bool {
	if o == p {
		return true
	}
	if o == nil || p == nil || o.KeepBigInts != p.KeepBigInts || o.UnsetEpochLists != p.UnsetEpochLists {
		return false
	}
	return slices.Equal(o.DropTopLevel, p.DropTopLevel) && slices.Equal(o.EpochMillis, p.EpochMillis)
}

// isDropped and isEpochMillis compare the decoded name (see nameIs).
func (s *scanner) isDropped(name []byte) bool { return nameIn(name, s.opts.DropTopLevel) }

func (s *scanner) isEpochMillis(name []byte) bool { return nameIn(name, s.opts.EpochMillis) }

// listed is nameIn for a name Strip has just copied: plain says that the
// copy holds no backslash, so that it decodes to itself.
func (s *scanner) listed(name []byte, plain bool, list []string) bool {
	if !plain {
		return nameIn(name, list)
	}
	for _, k := range list {
		if string(name) == k {
			return true
		}
	}
	return false
}

// nameIn reports whether raw (as in nameIs) decodes to one of list. It
// runs for every member of every event: a name without escapes, the usual
// case, decodes to itself and is compared whole, which rejects most
// candidates on their length alone.
func nameIn(raw []byte, list []string) bool {
	if !hasBackslash(raw) {
		for _, k := range list {
			if string(raw) == k {
				return true
			}
		}
		return false
	}
	for _, k := range list {
		if nameIs(raw, k) {
			return true
		}
	}
	return false
}

func (s *scanner) array(depth int) error {
	if depth > MaxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++ // '['
	s.dst = append(s.dst, '[')
	s.fields++ // Wazuh keeps an array as one field
	first := true
	s.skipSpace()
	if s.pos < len(s.src) && s.src[s.pos] == ']' {
		s.pos++
		s.dst = append(s.dst, ']')
		return nil
	}
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input in array")
		}
		if s.src[s.pos] == 'n' {
			if err := s.skipLiteral("null"); err != nil {
				return err
			}
		} else {
			if !first {
				s.dst = append(s.dst, ',')
			}
			before := s.fields
			if err := s.value(depth); err != nil {
				return err
			}
			s.fields = before // elements are part of the array's one field
			first = false
		}
		s.skipSpace()
		if s.pos >= len(s.src) {
			return s.fail("unexpected end of input in array")
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.dst = append(s.dst, ']')
			return nil
		default:
			return s.fail("expected ',' or ']'")
		}
	}
}

func (s *scanner) value(depth int) error {
	switch c := s.src[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		s.fields++
		return s.str()
	case c == 't':
		s.fields++
		return s.literal("true")
	case c == 'f':
		s.fields++
		return s.literal("false")
	case c == 'n':
		s.fields++
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		s.fields++
		return s.number()
	}
	return s.fail("unexpected character")
}

// skipValue validates and discards one value.
func (s *scanner) skipValue(depth int) error {
	mark, fields := len(s.dst), s.fields
	err := s.value(depth)
	s.dst, s.fields = s.dst[:mark], fields
	return err
}

func (s *scanner) literal(lit string) error {
	if len(s.src)-s.pos < len(lit) || string(s.src[s.pos:s.pos+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.dst = append(s.dst, lit...)
	s.pos += len(lit)
	return nil
}

const hex = "0123456789abcdef"

// str copies a string token. Bytes that JSON allows are copied as they are,
// escapes included; raw control characters are escaped and invalid UTF-8 is
// replaced by U+FFFD, because a vendor slip must not stall the stream nor put
// a raw newline into a Wazuh line. NUL (raw or \u0000) and lone surrogate
// escapes also become U+FFFD (written \ufffd): Wazuh's JSON parser cuts a
// string at NUL and refuses a line with a lone surrogate (see uRepair).
func (s *scanner) str() error {
	src, i := s.src, s.pos+1
	s.dst = append(s.dst, '"')
	s.escaped = false
	start := i
	for {
		i = plainRun(src, i)
		if i >= len(src) {
			break
		}
		c := src[i]
		switch {
		case c == '"':
			s.dst = append(s.dst, src[start:i]...)
			s.dst = append(s.dst, '"')
			s.pos = i + 1
			return nil
		case c == '\\':
			s.escaped = true
			n, err := s.escape(i)
			if err != nil {
				return err
			}
			if src[i+1] == 'u' {
				m, repl := uRepair(src[i:])
				if repl {
					s.dst = append(s.dst, src[start:i]...)
					s.dst = append(s.dst, `\ufffd`...)
					i += m
					start = i
					continue
				}
				n = m
			}
			i += n
		case c == 0:
			// Wazuh's parser would end the string here: see uRepair.
			s.escaped = true
			s.dst = append(s.dst, src[start:i]...)
			s.dst = append(s.dst, `\ufffd`...)
			i++
			start = i
		case c < 0x20:
			s.escaped = true
			s.dst = append(s.dst, src[start:i]...)
			s.dst = append(s.dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
			start = i
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				s.escaped = true
				s.dst = append(s.dst, src[start:i]...)
				s.dst = append(s.dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			i += size
		}
	}
	s.pos = i
	return s.fail("unterminated string")
}

// escape validates the escape sequence at src[i] (a backslash) and returns
// its length. Escapes are copied as they are, so only their form matters.
func (s *scanner) escape(i int) (int, error) {
	src := s.src
	if i+1 >= len(src) {
		s.pos = i
		return 0, s.fail("unterminated escape")
	}
	switch src[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		if i+6 > len(src) || !isHex4(src[i+2:i+6]) {
			s.pos = i
			return 0, s.fail("invalid \\u escape")
		}
		return 6, nil
	}
	s.pos = i
	return 0, s.fail("invalid escape")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// scanNumber validates a number token and reports its end and whether it
// is an integer (no fraction or exponent).
func (s *scanner) scanNumber() (end int, integer bool, err error) {
	i := s.pos
	if i < len(s.src) && s.src[i] == '-' {
		i++
	}
	switch {
	case i < len(s.src) && s.src[i] == '0':
		i++
	case i < len(s.src) && s.src[i] >= '1' && s.src[i] <= '9':
		for i < len(s.src) && s.src[i] >= '0' && s.src[i] <= '9' {
			i++
		}
	default:
		return 0, false, s.fail("invalid number")
	}
	integer = true
	if i < len(s.src) && s.src[i] == '.' {
		integer = false
		i++
		d := i
		for i < len(s.src) && s.src[i] >= '0' && s.src[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false, s.fail("invalid number fraction")
		}
	}
	if i < len(s.src) && (s.src[i] == 'e' || s.src[i] == 'E') {
		integer = false
		i++
		if i < len(s.src) && (s.src[i] == '+' || s.src[i] == '-') {
			i++
		}
		d := i
		for i < len(s.src) && s.src[i] >= '0' && s.src[i] <= '9' {
			i++
		}
		if i == d {
			return 0, false, s.fail("invalid number exponent")
		}
	}
	return i, integer, nil
}

func (s *scanner) number() error {
	end, integer, err := s.scanNumber()
	if err != nil {
		return err
	}
	tok := s.src[s.pos:end]
	s.pos = end
	if integer && !s.opts.KeepBigInts && !fitsInt32(tok) {
		s.dst = append(s.dst, '"')
		s.dst = append(s.dst, tok...)
		s.dst = append(s.dst, '"')
		return nil
	}
	s.dst = append(s.dst, tok...)
	return nil
}

// fitsInt32 reports whether an integer token is within Wazuh's int range.
func fitsInt32(tok []byte) bool {
	neg := tok[0] == '-'
	digits := tok
	if neg {
		digits = tok[1:]
	}
	if len(digits) < 10 {
		return true
	}
	if len(digits) > 10 {
		return false
	}
	limit := "2147483647"
	if neg {
		limit = "2147483648"
	}
	return string(digits) <= limit
}

// epochMillis converts an integer epoch-milliseconds value to ISO 8601;
// any other number is copied like a number.
func (s *scanner) epochMillis() error {
	s.fields++
	end, integer, err := s.scanNumber()
	if err != nil {
		return err
	}
	tok := s.src[s.pos:end]
	ms, ok := parseInt(tok)
	if !integer || !ok || ms < 0 || ms > 253402300799999 { // year 9999
		return s.number()
	}
	s.pos = end
	s.dst = append(s.dst, '"')
	s.dst = appendMillis(s.dst, ms)
	s.dst = append(s.dst, '"')
	return nil
}

// epochList copies an array held by an EpochMillis key under
// UnsetEpochLists: positive integers become ISO 8601, zero and negative
// integers and nulls are dropped, anything else is kept. It returns how
// many elements were kept.
func (s *scanner) epochList(depth int) (int, error) {
	if depth > MaxDepth {
		return 0, s.fail("nesting too deep")
	}
	s.pos++ // '['
	s.dst = append(s.dst, '[')
	kept := 0
	s.skipSpace()
	if s.pos < len(s.src) && s.src[s.pos] == ']' {
		s.pos++
		s.dst = append(s.dst, ']')
		return 0, nil
	}
	s.fields++
	for {
		s.skipSpace()
		if s.pos >= len(s.src) {
			return 0, s.fail("unexpected end of input in array")
		}
		mark := len(s.dst)
		if kept > 0 {
			s.dst = append(s.dst, ',')
		}
		before := s.fields
		switch c := s.src[s.pos]; {
		case c == 'n':
			if err := s.skipLiteral("null"); err != nil {
				return 0, err
			}
			s.dst = s.dst[:mark]
		case c == '-' || c >= '0' && c <= '9':
			end, integer, err := s.scanNumber()
			if err != nil {
				return 0, err
			}
			if integer && nonPositive(s.src[s.pos:end]) {
				s.pos = end
				s.dst = s.dst[:mark]
				break
			}
			if err := s.epochMillis(); err != nil {
				return 0, err
			}
			kept++
		default:
			if err := s.value(depth); err != nil {
				return 0, err
			}
			kept++
		}
		s.fields = before // elements are part of the array's one field
		s.skipSpace()
		if s.pos >= len(s.src) {
			return 0, s.fail("unexpected end of input in array")
		}
		switch s.src[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.dst = append(s.dst, ']')
			if kept == 0 {
				s.fields--
			}
			return kept, nil
		default:
			return 0, s.fail("expected ',' or ']'")
		}
	}
}

// nonPositive reports whether an integer token is zero or negative (JSON
// has no leading zeros, so "0" is the only zero).
func nonPositive(tok []byte) bool {
	return tok[0] == '-' || len(tok) == 1 && tok[0] == '0'
}

func parseInt(tok []byte) (int64, bool) {
	if len(tok) == 0 || len(tok) > 18 {
		return 0, false
	}
	neg := tok[0] == '-'
	if neg {
		tok = tok[1:]
	}
	var n int64
	for _, c := range tok {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// appendMillis appends epoch milliseconds ms (0 to the end of year 9999)
// as "2006-01-02T15:04:05.000Z": what time.Time.AppendFormat writes with
// that layout (FuzzAppendMillis holds it to that). A Cortex XDR alert holds
// a dozen times, so the date is computed with integer arithmetic (the
// proleptic Gregorian calendar from a day count, after H. Hinnant's
// days_from_civil inverse) and written in one append.
func appendMillis(dst []byte, ms int64) []byte {
	days := uint64(ms) / 86400000
	rem := uint64(ms) % 86400000
	z := days + 719468 // days since 0000-03-01
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	year := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
		year++
	}
	hour := rem / 3600000
	minute := rem / 60000 % 60
	sec := rem / 1000 % 60
	milli := rem % 1000
	b := [24]byte{
		byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + month/10), byte('0' + month%10), '-',
		byte('0' + day/10), byte('0' + day%10), 'T',
		byte('0' + hour/10), byte('0' + hour%10), ':',
		byte('0' + minute/10), byte('0' + minute%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.',
		byte('0' + milli/100), byte('0' + milli/10%10), byte('0' + milli%10), 'Z',
	}
	return append(dst, b[:]...)
}

// appendClock appends the "15:04:05.000Z" of epoch milliseconds ms (not
// negative), what appendMillis writes after the date.
func appendClock(dst []byte, ms int64) []byte {
	rem := uint64(ms) % 86400000
	hour := rem / 3600000
	minute := rem / 60000 % 60
	sec := rem / 1000 % 60
	milli := rem % 1000
	b := [13]byte{
		byte('0' + hour/10), byte('0' + hour%10), ':',
		byte('0' + minute/10), byte('0' + minute%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.',
		byte('0' + milli/100), byte('0' + milli/10%10), byte('0' + milli%10), 'Z',
	}
	return append(dst, b[:]...)
}
