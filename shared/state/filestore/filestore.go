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

// Legacy returns a top-level string value of the state file, such as the
// seed wodles' "audit_cursor" or "client-a.audit_cursor".
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
		return "", false, nil
	}
	return v, v != "", nil
}

type document struct {
	top     map[string]json.RawMessage
	streams map[string]state.Record
}

func (s *Store) read() (*document, error) {
	doc := &document{top: map[string]json.RawMessage{}, streams: map[string]state.Record{}}
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
	return doc, nil
}

func (s *Store) write(doc *document) error {
	streams, err := json.Marshal(doc.streams)
	if err != nil {
		return fmt.Errorf("filestore: encode streams: %w", err)
	}
	doc.top[streamsKey] = streams
	doc.top[formatKey] = json.RawMessage(fmt.Sprint(Format))
	b, err := json.MarshalIndent(doc.top, "", " ")
	if err != nil {
		return fmt.Errorf("filestore: encode state: %w", err)
	}
	b = append(b, '\n')
	return writeAtomic(s.path, b)
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
	return doc.streams[l.key.String()], nil
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
	if cur := doc.streams[name]; cur.Version != rec.Version {
		return 0, fmt.Errorf("filestore: commit %s at version %d, stored %d: %w", l.key, rec.Version, cur.Version, state.ErrConflict)
	}
	rec.Version++
	rec.UpdatedAt = l.store.now().UTC()
	doc.streams[name] = rec
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
