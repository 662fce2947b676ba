// Package filestore keeps stream state in one JSON file on the local host,
// the form the seed wodles used, so an existing seed state file can be
// adopted in place.
//
// Ownership of a stream is an exclusive flock on a separate lock file per
// stream: a lock on the state file itself would be lost the moment the file
// is replaced by rename. The kernel drops the lock when the process dies, so
// a killed run never blocks the next one. Writes go to a temporary file that
// is fsynced, renamed over the state file, and followed by an fsync of the
// directory, so a crash leaves either the old or the new state, never a mix.
package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Format is written into every state file so that a future layout change
// can be detected instead of misread.
const Format = 1

const (
	formatKey  = "wazuh_pull_format"
	streamsKey = "streams"
)

// Store is a state.Store backed by one JSON file.
type Store struct {
	path string
	now  func() time.Time

	// cache is the document this store last wrote, reused while the file
	// is still that exact file (same inode, size and modification time):
	// a catch-up commits every page, and re-parsing a file full of dedup
	// keys each time would dominate the run's CPU.
	mu    sync.Mutex
	cache *cachedDoc
}

type cachedDoc struct {
	doc   *document
	ino   uint64
	size  int64
	mtime time.Time
}

func fileID(fi os.FileInfo) (uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Ino, true
}

func (c *cachedDoc) matches(fi os.FileInfo) bool {
	ino, ok := fileID(fi)
	return ok && c != nil && ino == c.ino && fi.Size() == c.size && fi.ModTime().Equal(c.mtime)
}

func (d *document) clone() *document {
	out := &document{top: make(map[string]json.RawMessage, len(d.top)), streams: make(map[string]json.RawMessage, len(d.streams))}
	for k, v := range d.top {
		out.top[k] = v
	}
	for k, v := range d.streams {
		out.streams[k] = v
	}
	return out
}

// New returns a store for the state file at path. The file need not exist;
// its directory is created (0750) if missing.
func New(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("filestore: empty state file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("filestore: state file path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("filestore: create state directory: %w", err)
	}
	return &Store{path: abs, now: time.Now}, nil
}

// Path is the state file's absolute path.
func (s *Store) Path() string { return s.path }

// LockPath is the lock file that guards key's stream.
func (s *Store) LockPath(key state.Key) string {
	return s.path + "." + key.Tenant + "." + key.Vendor + "." + key.Stream + ".lock"
}

// Lock takes the stream's lock file without waiting: a runner that finds the
// stream busy skips it rather than queueing behind a long catch-up.
func (s *Store) Lock(ctx context.Context, key state.Key, opts state.LockOptions) (state.Lease, error) {
	if err := key.Validate(); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.LockPath(key), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("filestore: %s: %w", key, state.ErrLocked)
		}
		return nil, fmt.Errorf("filestore: lock %s: %w", key, err)
	}
	// The holder's identity helps an operator who finds a stream locked.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid=%d owner=%s since=%s\n", os.Getpid(), opts.Owner, s.now().UTC().Format(time.RFC3339))
	}
	return &lease{store: s, key: key, lockFile: f}, nil
}

// Legacy returns a top-level value of the state file, such as the seed
// wodles' "audit_cursor" or "client-a.audit_cursor": a string as it is, a
// number as its JSON text (the Cortex XDR seed stored epoch milliseconds).
func (s *Store) Legacy(name string) (string, bool, error) {
	doc, err := s.read()
	if err != nil {
		return "", false, err
	}
	raw, ok := doc.top[name]
	if !ok {
		return "", false, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false, nil
		}
		v = n.String()
	}
	return v, v != "", nil
}

// document is the state file. Records of other streams stay encoded: a
// commit decodes only its own, so its cost does not grow with the number
// of streams sharing the file.
type document struct {
	top     map[string]json.RawMessage
	streams map[string]json.RawMessage
}

func (s *Store) read() (*document, error) {
	if fi, err := os.Stat(s.path); err == nil {
		s.mu.Lock()
		c := s.cache
		s.mu.Unlock()
		if c.matches(fi) {
			return c.doc.clone(), nil
		}
	}
	doc := &document{top: map[string]json.RawMessage{}, streams: map[string]json.RawMessage{}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return doc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("filestore: read %s: %w", s.path, err)
	}
	if len(b) == 0 {
		return doc, nil
	}
	if err := json.Unmarshal(b, &doc.top); err != nil {
		return nil, fmt.Errorf("filestore: %s: %w: %v", s.path, state.ErrCorrupt, err)
	}
	if raw, ok := doc.top[formatKey]; ok {
		var f int
		if err := json.Unmarshal(raw, &f); err != nil || f != Format {
			return nil, fmt.Errorf("filestore: %s: %w: unsupported format %s", s.path, state.ErrCorrupt, raw)
		}
	}
	if raw, ok := doc.top[streamsKey]; ok {
		if err := json.Unmarshal(raw, &doc.streams); err != nil {
			return nil, fmt.Errorf("filestore: %s: %w: streams: %v", s.path, state.ErrCorrupt, err)
		}
	}
	delete(doc.top, streamsKey)
	delete(doc.top, formatKey)
	return doc, nil
}

func (s *Store) record(doc *document, name string) (state.Record, error) {
	raw, ok := doc.streams[name]
	if !ok {
		return state.Record{}, nil
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return state.Record{}, fmt.Errorf("filestore: %s: %w: stream %s: %v", s.path, state.ErrCorrupt, name, err)
	}
	return rec, nil
}

// write lays the file out by hand: keys sorted, one stream per line, so
// that the file is readable and diffable and a commit stays cheap.
func (s *Store) write(doc *document) error {
	b := make([]byte, 0, 4096)
	b = append(b, "{\n \""+formatKey+"\": "...)
	b = strconv.AppendInt(b, Format, 10)
	b = append(b, ",\n \""+streamsKey+"\": {"...)
	for i, k := range sortedKeys(doc.streams) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n  "...)
		b = appendJSONString(b, k)
		b = append(b, ": "...)
		b = append(b, doc.streams[k]...)
	}
	b = append(b, "\n }"...)
	for _, k := range sortedKeys(doc.top) {
		b = append(b, ",\n "...)
		b = appendJSONString(b, k)
		b = append(b, ": "...)
		b = append(b, doc.top[k]...)
	}
	b = append(b, "\n}\n"...)
	if err := writeAtomic(s.path, b); err != nil {
		return err
	}
	if fi, err := os.Stat(s.path); err == nil {
		if ino, ok := fileID(fi); ok {
			s.mu.Lock()
			s.cache = &cachedDoc{doc: doc.clone(), ino: ino, size: fi.Size(), mtime: fi.ModTime()}
			s.mu.Unlock()
		}
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeAtomic replaces path with b so that a crash at any instant leaves
// either the old or the new content.
func writeAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("filestore: create temp file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return fmt.Errorf("filestore: write temp file: %w", err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("filestore: chmod temp file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("filestore: fsync temp file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("filestore: close temp file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("filestore: rename temp file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("filestore: open state directory: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("filestore: fsync state directory: %w", err)
	}
	return nil
}

// writeLock serialises read-modify-write of the shared state file between
// processes that own different streams. It is held for one commit only.
func (s *Store) writeLock(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: open write lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("filestore: write lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("filestore: waiting for write lock: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

type lease struct {
	store *Store
	key   state.Key

	mu       sync.Mutex
	lockFile *os.File // nil once released
}

func (l *lease) Key() state.Key { return l.key }

func (l *lease) Load(ctx context.Context) (state.Record, error) {
	if err := ctx.Err(); err != nil {
		return state.Record{}, err
	}
	doc, err := l.store.read()
	if err != nil {
		return state.Record{}, err
	}
	return l.store.record(doc, l.key.String())
}

func (l *lease) Commit(ctx context.Context, rec state.Record) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lockFile == nil {
		return 0, fmt.Errorf("filestore: commit %s: %w", l.key, state.ErrLeaseLost)
	}
	unlock, err := l.store.writeLock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	doc, err := l.store.read()
	if err != nil {
		return 0, err
	}
	name := l.key.String()
	stored, ok := recordVersion(doc.streams[name])
	if !ok {
		cur, err := l.store.record(doc, name)
		if err != nil {
			return 0, err
		}
		stored = cur.Version
	}
	if stored != rec.Version {
		return 0, fmt.Errorf("filestore: commit %s at version %d, stored %d: %w", l.key, rec.Version, stored, state.ErrConflict)
	}
	rec.Version++
	rec.UpdatedAt = l.store.now().UTC()
	enc, err := encodeRecord(rec)
	if err != nil {
		return 0, fmt.Errorf("filestore: commit %s: %w", l.key, err)
	}
	doc.streams[name] = enc
	if err := l.store.write(doc); err != nil {
		return 0, err
	}
	return rec.Version, nil
}

func (l *lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lockFile == nil {
		return nil
	}
	// Closing the descriptor drops the flock. The lock file stays: deleting
	// it would let a third runner lock a fresh inode while another still
	// holds the old one.
	err := l.lockFile.Close()
	l.lockFile = nil
	if err != nil {
		return fmt.Errorf("filestore: release %s: %w", l.key, err)
	}
	return nil
}
