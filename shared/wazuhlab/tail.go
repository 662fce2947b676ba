package wazuhlab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Record is one line of archives.json or alerts.json.
type Record struct {
	Event
	// Raw is the line as written.
	Raw json.RawMessage
}

// ParseRecord decodes one archives.json or alerts.json line.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r.Event); err != nil {
		return Record{}, fmt.Errorf("wazuhlab: record: %w (%d bytes: %s)", err, len(line), excerpt(line))
	}
	r.Raw = append(json.RawMessage(nil), line...)
	return r, nil
}

// excerpt shows the start and the end of a long line.
func excerpt(line []byte) string {
	if len(line) <= 600 {
		return string(line)
	}
	return string(line[:300]) + " … " + string(line[len(line)-300:])
}

// Tail reads the lines appended to a file after it was opened.
type Tail struct {
	// KeepDamaged makes Records keep a line that is not JSON (see Torn)
	// instead of failing: for tests that stop analysisd while it writes.
	KeepDamaged bool

	path    string
	off     int64
	partial []byte
	torn    [][]byte
}

// NewTail starts reading path at its current end (a missing file counts
// as empty).
func NewTail(path string) (*Tail, error) {
	t := &Tail{path: path}
	fi, err := os.Stat(path)
	switch {
	case err == nil:
		t.off = fi.Size()
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("wazuhlab: %w", err)
	}
	return t, nil
}

// TailArchives, TailAlerts and TailOssecLog start reading the lab's files
// at their current end.
func (l *Lab) TailArchives() (*Tail, error) { return NewTail(l.ArchivesPath()) }

// TailAlerts starts reading alerts.json at its end.
func (l *Lab) TailAlerts() (*Tail, error) { return NewTail(l.AlertsPath()) }

// TailOssecLog starts reading ossec.log at its end.
func (l *Lab) TailOssecLog() (*Tail, error) { return NewTail(l.OssecLogPath()) }

// Lines returns the complete lines appended since the last call.
func (t *Tail) Lines() ([][]byte, error) {
	f, err := os.Open(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wazuhlab: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("wazuhlab: %w", err)
	}
	if fi.Size() < t.off { // rotated or truncated
		t.off, t.partial = 0, nil
	}
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("wazuhlab: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("wazuhlab: %w", err)
	}
	t.off += int64(len(b))
	b = append(t.partial, b...)
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		t.partial = b
		return nil, nil
	}
	t.partial = append([]byte(nil), b[end+1:]...)
	var out [][]byte
	for _, ln := range bytes.Split(b[:end], []byte{'\n'}) {
		if len(bytes.TrimSpace(ln)) > 0 {
			out = append(out, ln)
		}
	}
	return out, nil
}

// Records returns the JSON records appended since the last call.
//
// analysisd writes archives.json and alerts.json through a stdio buffer
// and its signal handler exits, which flushes that buffer: stopped while
// it copies a record into it, analysisd leaves the start of that record
// without a newline, and the next analysisd's first record continues the
// same line. Records returns that next record and keeps the torn start
// (see Torn). Any other line that is not JSON is an error, unless
// KeepDamaged is set: Torn then keeps the whole line.
func (t *Tail) Records() ([]Record, error) {
	lines, err := t.Lines()
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(lines))
	for _, ln := range lines {
		r, err := ParseRecord(ln)
		if err != nil {
			// A record's own strings hold this only escaped.
			i := bytes.LastIndex(ln, []byte(`{"timestamp":"`))
			next, nextErr := Record{}, err
			if i > 0 {
				next, nextErr = ParseRecord(ln[i:])
			}
			if nextErr != nil {
				if !t.KeepDamaged {
					return out, err
				}
				t.torn = append(t.torn, append([]byte(nil), ln...))
				continue
			}
			t.torn = append(t.torn, append([]byte(nil), ln[:i]...))
			r = next
		}
		out = append(out, r)
	}
	return out, nil
}

// Torn returns the starts of the records analysisd tore when it was
// stopped, as Records found them (and, with KeepDamaged, the lines that
// were not JSON at all).
func (t *Tail) Torn() [][]byte { return t.torn }

// WaitRecords collects records until done(collected) is true or ctx ends;
// it returns what it collected either way.
func (t *Tail) WaitRecords(ctx context.Context, done func([]Record) bool) ([]Record, error) {
	var all []Record
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		recs, err := t.Records()
		all = append(all, recs...)
		if err != nil {
			return all, err
		}
		if done(all) {
			return all, nil
		}
		select {
		case <-ctx.Done():
			return all, ctx.Err()
		case <-tick.C:
		}
	}
}
