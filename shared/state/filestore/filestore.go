// Package filestore keeps stream state in one JSON file on the local host,
// the form the seed wodles used, so an existing seed state file can be
// adopted in place.
//
// Ownership of a stream is an exclusive flock on a separate lock file per
// stream: a lock on the state file itself would be lost the moment the file
// is replaced by rename. The kernel drops the lock when the process dies, so
// a killed run never blocks the next one. Writes go to a scratch file
// that is synced, atomically exchanged with the state file, and followed
// by an fsync of the directory, so a crash leaves either the old or the new
// state, never a mix (see dir.writeAtomic); temporary files that earlier
// versions' crashes left behind are removed by the next commit. A second
// lock file, <state file>.lock, serialises commits (held exclusive) and
// reads of the file (held shared), and counts writes (lockState).
//
// The state directory must be owned by the user running the store and not
// be writable by group or others: anyone who can create entries in it could
// substitute the state file or plant links under its names. Such a
// directory is refused with an error before anything is written. Files in
// it are opened relative to a directory handle without following links
// (O_NOFOLLOW), so a link planted under a lock or state file name is an
// error, never a way to overwrite the link's target.
//
// A record's dedup keys are stored as one base64 string of digests and
// times (see record.go); records written by earlier versions, with the
// keys themselves, are still read. A record may carry a pending position
// (state.Pending) beside its cursor, written in the same way.
package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// Format is written into every state file so that a future layout change
// can be detected instead of misread. Format 2 stores dedup keys as
// digests; files of format 1 (dedup keys as strings) are read and
// rewritten as format 2 by the next commit.
const Format = 2

const (
	formatKey  = "wazuh_pull_format"
	streamsKey = "streams"
)

// Store is a state.Store backed by one JSON file.
type Store struct {
	dir  string // absolute path of the state directory
	name string // the state file's name in it
	now  func() time.Time

	// cache is the document this store last read or wrote, reused while
	// the file is still that exact file (same inode, size and modification
	// time) and, for a commit, while no other process has written it since
	// (the write generation): a catch-up commits every page, and
	// re-parsing a file full of dedup keys each time would dominate the
	// run's CPU.
	mu      sync.Mutex
	cache   *cachedDoc
	cleaned bool // stale temporary files were removed
	// fsyncDir makes the directory's entries durable (unix.Fsync; tests
	// count the calls).
	fsyncDir func(fd int) error

	// image is the buffer the file is laid out in, kept for the next
	// commit (a catch-up commits every page).
	imageMu sync.Mutex
	image   []byte
}

type cachedDoc struct {
	doc *document
	id  fileID
	gen int64 // the write generation it is known to be current for, or -1
}

// The write generation is a counter kept in the write lock file, bumped
// under the lock before each write of the state file. It tells a process
// whether another one wrote the file since its own last write: the file's
// identity alone cannot, since the state and scratch files exchange
// inodes and a file system's modification times are coarse (two commits
// of another process within one clock tick, of the same size, would look
// unchanged). Losing it (a crash) only costs one re-read.
const noGen = -1

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
// its directory is created (0750) if missing. A directory owned by another
// user or writable by group or others is refused.
func New(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("filestore: empty state file path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("filestore: state file path %q: %w", path, err)
	}
	s := &Store{dir: filepath.Dir(abs), name: filepath.Base(abs), now: time.Now, fsyncDir: unix.Fsync}
	if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(s.dir, 0o750); err != nil {
			return nil, fmt.Errorf("filestore: create state directory: %w", err)
		}
	}
	d, err := openDir(s.dir)
	if err != nil {
		return nil, err
	}
	d.close()
	return s, nil
}

// Path is the state file's absolute path.
func (s *Store) Path() string { return filepath.Join(s.dir, s.name) }

// LockPath is the lock file that guards key's stream.
func (s *Store) LockPath(key state.Key) string { return filepath.Join(s.dir, s.lockName(key)) }

func (s *Store) lockName(key state.Key) string {
	return s.name + "." + key.Tenant + "." + key.Vendor + "." + key.Stream + ".lock"
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
	d, err := openDir(s.dir)
	if err != nil {
		return nil, err
	}
	defer d.close()
	f, err := d.open(s.lockName(key), unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: lock file of %s: %w", key, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
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
	doc, err := s.read(context.Background())
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

func (s *Store) read(ctx context.Context) (*document, error) {
	d, err := openDir(s.dir)
	if err != nil {
		return nil, err
	}
	defer d.close()
	return s.readIn(ctx, d, noGen)
}

// readIn returns the state file's document. gen is the write generation
// when the caller holds the write lock (noGen otherwise): the cached
// document then serves only if it is current for that generation. Without
// the lock it serves while the file is the one it came from: what a
// reader takes from it, its own stream's record, only its own process
// writes.
func (s *Store) readIn(ctx context.Context, d *dir, gen int64) (*document, error) {
	if id, ok, err := d.stat(s.name); err == nil && ok {
		s.mu.Lock()
		c := s.cache
		s.mu.Unlock()
		if c != nil && c.id == id && (gen == noGen || c.gen == gen) {
			return c.doc.clone(), nil
		}
	}
	doc := &document{top: map[string]json.RawMessage{}, streams: map[string]json.RawMessage{}}
	if gen == noGen {
		// A commit rewrites in place the file that was the state two
		// commits before: a reader holds the write lock's file shared so
		// that no commit runs while it reads.
		lock, err := s.lockWrites(ctx, d, unix.LOCK_SH)
		if err != nil {
			return nil, err
		}
		defer lock.Close()
	}
	b, id, ok, err := d.readFile(s.name)
	if err != nil {
		return nil, err
	}
	if !ok || len(b) == 0 {
		return doc, nil
	}
	path := s.Path()
	if !scanDocument(b, doc) {
		var err error
		if doc, err = decodeDocumentJSON(b); err != nil {
			return nil, fmt.Errorf("filestore: %s: %w: %v", path, state.ErrCorrupt, err)
		}
	}
	if raw, ok := doc.top[formatKey]; ok {
		var f int
		if err := json.Unmarshal(raw, &f); err != nil || f < 1 || f > Format {
			return nil, fmt.Errorf("filestore: %s: %w: unsupported format %s (this build reads 1 to %d)", path, state.ErrCorrupt, raw, Format)
		}
	}
	delete(doc.top, streamsKey)
	delete(doc.top, formatKey)
	// A run reads the file once per stream (its legacy seed position and
	// its record) before any commit: parsing it once is enough while it
	// stays the file that was read (id is of the descriptor read).
	s.mu.Lock()
	s.cache = &cachedDoc{doc: doc.clone(), id: id, gen: gen}
	s.mu.Unlock()
	return doc, nil
}

// scanDocument fills doc, an empty document, from the file's bytes with
// jsonscan: one validating pass where encoding/json takes three, which
// was about a tenth of the CPU of a run that found nothing new (every run
// reads the file). It reports false, leaving doc to be refilled, for
// whatever it would not read exactly as encoding/json does: a file that
// is not one object, a member name with escapes or beyond ASCII, a
// "streams" member that is not one object or appears twice.
func scanDocument(b []byte, doc *document) bool {
	var sawStreams bool
	n, err := jsonscan.MembersFunc(b, func(quoted, rest []byte) (int, error) {
		name, ok := jsonscan.Plain(quoted)
		if !ok {
			return 0, errNotPlain
		}
		if string(name) == streamsKey {
			if sawStreams {
				return 0, errNotPlain
			}
			sawStreams = true
			return jsonscan.Members(rest, func(quoted, value []byte) error {
				name, ok := jsonscan.Plain(quoted)
				if !ok {
					return errNotPlain
				}
				// Capped: an append to a record must never write into
				// the bytes after it.
				doc.streams[string(name)] = value[:len(value):len(value)]
				return nil
			})
		}
		n, err := jsonscan.Skip(rest)
		if err == nil {
			doc.top[string(name)] = rest[:n:n]
		}
		return n, err
	})
	if err != nil || controlInString(b) {
		return false
	}
	for _, c := range b[n:] {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// decodeDocumentJSON reads with encoding/json what scanDocument leaves.
func decodeDocumentJSON(b []byte) (*document, error) {
	doc := &document{top: map[string]json.RawMessage{}, streams: map[string]json.RawMessage{}}
	if err := json.Unmarshal(b, &doc.top); err != nil {
		return nil, err
	}
	if raw, ok := doc.top[streamsKey]; ok {
		if err := json.Unmarshal(raw, &doc.streams); err != nil {
			return nil, fmt.Errorf("streams: %v", err)
		}
	}
	// A file of null, or "streams": null, decodes to nil maps: a commit
	// then adds its record to an empty document instead of panicking.
	if doc.top == nil {
		doc.top = map[string]json.RawMessage{}
	}
	if doc.streams == nil {
		doc.streams = map[string]json.RawMessage{}
	}
	return doc, nil
}

// controlInString reports a raw control character inside a string of
// JSON that jsonscan accepted: jsonscan lets them through (vendor events
// get them escaped), encoding/json refuses them.
func controlInString(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			in = !in
		case !in:
		case c == '\\':
			i++
		case c < 0x20:
			return true
		}
	}
	return false
}

// errNotPlain sends a document or record to encoding/json.
var errNotPlain = errors.New("filestore: left to encoding/json")

func (s *Store) record(doc *document, name string) (state.Record, error) {
	raw, ok := doc.streams[name]
	if !ok {
		return state.Record{}, nil
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return state.Record{}, fmt.Errorf("filestore: %s: %w: stream %s: %v", s.Path(), state.ErrCorrupt, name, err)
	}
	return rec, nil
}

// write lays the file out by hand: keys sorted, one stream per line, so
// that the file is readable and diffable and a commit stays cheap. gen is
// the write generation the file is written under.
func (s *Store) write(d *dir, doc *document, gen int64) error {
	s.imageMu.Lock()
	defer s.imageMu.Unlock()
	b := s.image[:0]
	defer func() { s.image = b[:0] }()
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
	if err := d.writeAtomic(s.name, b, s.fsyncDir); err != nil {
		return err
	}
	if id, ok, err := d.stat(s.name); err == nil && ok {
		s.mu.Lock()
		s.cache = &cachedDoc{doc: doc.clone(), id: id, gen: gen}
		s.mu.Unlock()
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

// lockWrites takes the lock file that serialises writes of the shared
// state file between processes owning different streams: exclusive
// (unix.LOCK_EX) for one commit's read-modify-write, shared
// (unix.LOCK_SH) for a read of the file, which a commit in progress could
// be rewriting (the scratch file was the state file two commits before).
// The file also holds the write generation (lockState). It waits while
// ctx allows; closing the file releases the lock.
func (s *Store) lockWrites(ctx context.Context, d *dir, how int) (*os.File, error) {
	f, err := s.openWriteLock(d, how)
	if err != nil {
		return nil, err
	}
	if err := waitFlock(ctx, f, how); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (s *Store) openWriteLock(d *dir, how int) (*os.File, error) {
	f, err := d.open(s.name+".lock", unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filestore: %s: %w", lockWhat(how), err)
	}
	return f, nil
}

func lockWhat(how int) string {
	if how == unix.LOCK_SH {
		return "read lock"
	}
	return "write lock"
}

// waitFlock takes the flock of f as how says, waiting while ctx allows.
func waitFlock(ctx context.Context, f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("filestore: %s: %w", lockWhat(how), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("filestore: waiting for the %s: %w", lockWhat(how), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// lockState is what the lock file holds, written under the exclusive
// lock as two 20-digit decimal numbers and a newline:
//   - gen, the write generation, bumped before each write of the state
//     file;
//   - durable, the generation whose directory fsync was seen to succeed.
//     While it lags gen, a writer may have died between exchanging the
//     scratch file with the state file and fsyncing the directory, so the
//     directory on disk may still name the scratch file the state file.
//
// An empty or unreadable content (none written yet, or by an earlier
// version) reads as generation 0, not durable: it only costs a re-read
// and one directory fsync.
type lockState struct{ gen, durable int64 }

const lockStateLen = 42

func readLockState(lock *os.File) (lockState, error) {
	unknown := lockState{gen: 0, durable: noGen}
	var b [lockStateLen]byte
	n, err := lock.ReadAt(b[:], 0)
	if n < len(b) {
		if errors.Is(err, io.EOF) {
			return unknown, nil
		}
		return lockState{}, fmt.Errorf("filestore: read write generation: %w", err)
	}
	gen, err1 := strconv.ParseInt(string(b[:20]), 10, 64)
	durable, err2 := strconv.ParseInt(string(b[21:41]), 10, 64)
	if err1 != nil || err2 != nil || gen < 0 || durable < 0 || b[20] != ' ' {
		return unknown, nil
	}
	return lockState{gen: gen, durable: durable}, nil
}

func writeLockState(lock *os.File, st lockState) error {
	durable := max(st.durable, 0)
	if st.durable == noGen {
		durable = (st.gen + 1e18 - 1) % 1e18 // anything but gen
	}
	b := fmt.Appendf(make([]byte, 0, lockStateLen), "%020d %020d\n", st.gen, durable)
	if _, err := lock.WriteAt(b, 0); err != nil {
		return fmt.Errorf("filestore: write generation: %w", err)
	}
	return nil
}

type lease struct {
	store *Store
	key   state.Key

	mu       sync.Mutex
	lockFile *os.File // nil once released

	// The state directory and the write lock file (its flock taken for
	// each commit and dropped after it) are opened at the lease's first
	// commit and kept until Release: a catch-up commits every page, and
	// opening, checking and closing both each time was about 2 % of a
	// Cortex XDR catch-up's CPU. The directory's owner and mode are
	// checked when it is opened, so once per lease.
	commitDir *dir
	writeLock *os.File
}

// commitFiles returns the directory and write lock file of this lease's
// commits, opening them at the first.
func (l *lease) commitFiles() (*dir, *os.File, error) {
	if l.commitDir == nil {
		d, err := openDir(l.store.dir)
		if err != nil {
			return nil, nil, err
		}
		l.commitDir = d
	}
	if l.writeLock == nil {
		f, err := l.store.openWriteLock(l.commitDir, unix.LOCK_EX)
		if err != nil {
			return nil, nil, err
		}
		l.writeLock = f
	}
	return l.commitDir, l.writeLock, nil
}

// unlockWrites drops the write lock after a commit. Should that fail, the
// file is closed, which drops it too, and the next commit opens it again.
func (l *lease) unlockWrites() {
	if unix.Flock(int(l.writeLock.Fd()), unix.LOCK_UN) != nil {
		l.writeLock.Close()
		l.writeLock = nil
	}
}

// closeCommitFiles closes what commitFiles opened.
func (l *lease) closeCommitFiles() {
	if l.writeLock != nil {
		l.writeLock.Close()
		l.writeLock = nil
	}
	if l.commitDir != nil {
		l.commitDir.close()
		l.commitDir = nil
	}
}

func (l *lease) Key() state.Key { return l.key }

func (l *lease) Load(ctx context.Context) (state.Record, error) {
	if err := ctx.Err(); err != nil {
		return state.Record{}, err
	}
	doc, err := l.store.read(ctx)
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
	if len(rec.Seen) > state.MaxSeen {
		return 0, fmt.Errorf("filestore: commit %s: %d dedup keys: %w", l.key, len(rec.Seen), state.ErrSeenTooLarge)
	}
	if rec.Pending != nil && len(rec.Pending.Seen) > state.MaxSeen {
		return 0, fmt.Errorf("filestore: commit %s: %d pending dedup keys: %w", l.key, len(rec.Pending.Seen), state.ErrSeenTooLarge)
	}
	s := l.store
	d, lock, err := l.commitFiles()
	if err != nil {
		return 0, err
	}
	if err := waitFlock(ctx, lock, unix.LOCK_EX); err != nil {
		return 0, err
	}
	defer l.unlockWrites()
	s.removeStaleTemps(d)
	ls, err := readLockState(lock)
	if err != nil {
		return 0, err
	}
	doc, err := s.readIn(ctx, d, ls.gen)
	if err != nil {
		return 0, err
	}
	name := l.key.String()
	stored, ok := recordVersion(doc.streams[name])
	if !ok {
		cur, err := s.record(doc, name)
		if err != nil {
			return 0, err
		}
		stored = cur.Version
	}
	if stored != rec.Version {
		return 0, fmt.Errorf("filestore: commit %s at version %d, stored %d: %w", l.key, rec.Version, stored, state.ErrConflict)
	}
	rec.Version++
	rec.UpdatedAt = s.now().UTC()
	enc, err := encodeRecord(rec)
	if err != nil {
		return 0, fmt.Errorf("filestore: commit %s: %w", l.key, err)
	}
	doc.streams[name] = enc
	// The scratch file was the state file before the last commit. If that
	// commit's directory fsync was not seen to succeed, the directory on
	// disk may still name it the state file: make the exchange durable
	// before overwriting it.
	if ls.durable != ls.gen {
		if err := s.fsyncDir(d.fd); err != nil {
			return 0, fmt.Errorf("filestore: fsync state directory %s: %w", d.path, err)
		}
		ls.durable = ls.gen
	}
	// Bumped before the write: a write that fails after it only costs the
	// other processes a re-read and the next writer a directory fsync.
	ls.gen = (ls.gen + 1) % 1e18
	if err := writeLockState(lock, ls); err != nil {
		return 0, err
	}
	if err := s.write(d, doc, ls.gen); err != nil {
		return 0, err
	}
	ls.durable = ls.gen
	if err := writeLockState(lock, ls); err != nil {
		return 0, err
	}
	return rec.Version, nil
}

// removeStaleTemps clears what a crashed writer left. Under the write lock
// no live writer is between creating and renaming its temporary file. It
// runs once per store: each process clears what earlier ones left.
func (s *Store) removeStaleTemps(d *dir) {
	s.mu.Lock()
	done := s.cleaned
	s.cleaned = true
	s.mu.Unlock()
	if !done {
		// A failure here only leaves litter; the commit itself goes on.
		d.removeStaleTemps(s.name)
	}
}

// Renew has nothing to extend: the flock lasts as long as the process.
func (l *lease) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lockFile == nil {
		return fmt.Errorf("filestore: renew %s: %w", l.key, state.ErrLeaseLost)
	}
	return nil
}

func (l *lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lockFile == nil {
		return nil
	}
	l.closeCommitFiles()
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
