package filestore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
	"github.com/wazuh-pull/wazuh-pull/shared/state/statetest"
)

func TestContract(t *testing.T) {
	var mu sync.Mutex
	paths := map[*testing.T]string{}
	statetest.Run(t, statetest.Options{
		New: func(t *testing.T) state.Store {
			mu.Lock()
			p, ok := paths[t]
			if !ok {
				p = filepath.Join(t.TempDir(), "state.json")
				paths[t] = p
			}
			mu.Unlock()
			s, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		KeepsPending: true,
	})
}

var audit = state.Key{Tenant: "default", Vendor: "1password", Stream: "audit"}

// TestReadsEarlierFormats: state files written before dedup keys became
// digests keep working: their keys are read, digested, and suppress the
// same events; the next commit rewrites them compactly.
func TestReadsEarlierFormats(t *testing.T) {
	for _, c := range []struct{ name, seen string }{
		{"objects", `[{"k":"E1","t":"2026-03-02T08:00:00.5Z"},{"k":"Zoë \"q\"","t":"2026-03-02T08:00:01Z"},{"k":"zero","t":"0001-01-01T00:00:00Z"}]`},
		{"strings", `["1772438400500000000 E1","1772438401000000000 Zoë \"q\"","0 zero"]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "state.json")
			doc := `{"wazuh_pull_format":1,"streams":{"default/1password/audit":{"version":4,"cursor":{"cursor":"c"},"seen":` + c.seen + `,"updated_at":"2026-03-02T08:00:02Z"}},"audit_cursor":"seed"}`
			if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, l := lockAudit(t, p)
			rec, err := l.Load(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := []state.Seen{
				{Digest: state.KeyDigest("E1"), At: time.Date(2026, 3, 2, 8, 0, 1, 0, time.UTC)},
				{Digest: state.KeyDigest(`Zoë "q"`), At: time.Date(2026, 3, 2, 8, 0, 1, 0, time.UTC)},
				{Digest: state.KeyDigest("zero")},
			}
			if rec.Version != 4 || string(rec.Cursor) != `{"cursor":"c"}` || len(rec.Seen) != len(want) {
				t.Fatalf("record %+v", rec)
			}
			for i := range want {
				if rec.Seen[i].Digest != want[i].Digest || !rec.Seen[i].At.Equal(want[i].At) {
					t.Fatalf("Seen[%d] = %x at %s, want %x at %s", i, rec.Seen[i].Digest, rec.Seen[i].At, want[i].Digest, want[i].At)
				}
			}
			if _, err := l.Commit(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			if !strings.Contains(string(b), `"wazuh_pull_format": 2`) || strings.Contains(string(b), "E1") || !strings.Contains(string(b), `"audit_cursor": "seed"`) {
				t.Fatalf("after a commit the file is not format 2 with digests and the seed keys kept:\n%s", b)
			}
			again, err := l.Load(context.Background())
			if err != nil || len(again.Seen) != 3 || again.Seen[1].Digest != want[1].Digest {
				t.Fatalf("reload: %+v, %v", again, err)
			}
		})
	}
}

func TestRefusesAFutureFormat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(p, []byte(`{"wazuh_pull_format":3,"streams":{}}`), 0o600)
	_, l := lockAudit(t, p)
	if _, err := l.Load(context.Background()); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("Load of a format 3 file: %v, want ErrCorrupt", err)
	}
}

// TestLockFileLinkIsNotFollowed: a symbolic link planted under a lock
// file's name, pointing at another file (here the state file itself, and
// a file outside the directory), is refused; neither target changes.
func TestLockFileLinkIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	s, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Lock(context.Background(), audit, state.LockOptions{})
	if _, err := l.Commit(context.Background(), state.Record{Cursor: json.RawMessage(`{"c":1}`)}); err != nil {
		t.Fatal(err)
	}
	l.Release(context.Background())
	before, _ := os.ReadFile(p)
	outside := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(outside, []byte("precious"), 0o600)

	signin := state.Key{Tenant: "default", Vendor: "1password", Stream: "signin"}
	itemusage := state.Key{Tenant: "default", Vendor: "1password", Stream: "itemusage"}
	for k, target := range map[state.Key]string{signin: p, itemusage: outside} {
		if err := os.Symlink(target, s.LockPath(k)); err != nil {
			t.Fatal(err)
		}
		l, err := s.Lock(context.Background(), k, state.LockOptions{Owner: "x"})
		if err == nil {
			l.Release(context.Background())
			t.Fatalf("Lock through a link to %s succeeded", target)
		}
		if !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("Lock through a link: %v, want an error naming the link", err)
		}
	}
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Fatalf("the state file changed through a lock link:\n%s", after)
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Fatalf("a file outside the directory changed through a lock link: %q", b)
	}
	// The write lock is guarded the same way.
	os.Remove(p + ".lock")
	os.Symlink(outside, p+".lock")
	l, err = s.Lock(context.Background(), audit, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if _, err := l.Commit(context.Background(), state.Record{Version: 1}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Commit with a linked write lock: %v, want an error naming the link", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Fatalf("the write lock link's target changed: %q", b)
	}
}

// TestStateFileLinkIsNotFollowed: a state file that is a link is neither
// read nor written through.
func TestStateFileLinkIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "other.json")
	os.WriteFile(outside, []byte(`{"streams":{}}`), 0o600)
	p := filepath.Join(dir, "state.json")
	os.Symlink(outside, p)
	_, l := lockAudit(t, p)
	if _, err := l.Load(context.Background()); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Load through a linked state file: %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != `{"streams":{}}` {
		t.Fatalf("the link's target changed: %s", b)
	}
}

// TestUnsafeDirectoryRefused: a state directory others could write to, or
// owned by another user, is refused with a clear error before anything is
// written.
func TestUnsafeDirectoryRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o770, 0o757, 0o1777} {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		_, err := New(filepath.Join(dir, "state.json"))
		if err == nil || !strings.Contains(err.Error(), "writable by group or others") {
			t.Fatalf("mode %04o: New = %v, want a refusal naming the permission", mode, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("mode %04o: something was written: %v", mode, entries)
		}
	}
	// A directory owned by someone else.
	var dir string
	if os.Geteuid() == 0 {
		dir = filepath.Join(t.TempDir(), "theirs")
		os.Mkdir(dir, 0o755)
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	} else {
		dir = "/" // owned by root, and this test does not run as root
	}
	_, err := New(filepath.Join(dir, "state.json"))
	if err == nil || !strings.Contains(err.Error(), "is owned by uid") {
		t.Fatalf("directory owned by another user: New = %v, want a refusal naming the owner", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a state file was created in a directory owned by another user")
	}
}

// TestStaleTempFilesRemoved: a temporary file left by a writer that
// crashed between creating and renaming it is removed by the next commit;
// other files are not.
func TestStaleTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	stale := p + ".tmp-CRASHED1234"
	other := filepath.Join(dir, "other.json.tmp-KEEP")
	os.WriteFile(stale, []byte(`{"half":`), 0o600)
	os.WriteFile(other, []byte(`x`), 0o600)
	s, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := s.Lock(context.Background(), audit, state.LockOptions{})
	defer l.Release(context.Background())
	if _, err := l.Commit(context.Background(), state.Record{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale temp file still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another file's temp file was removed: %v", err)
	}
}

func TestAdoptsSeedStateFileAndKeepsItsKeys(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	seed := `{"audit_cursor": "c-audit", "audit_last_poll": "2026-03-22T10:00:00Z", "client-a.signin_cursor": "c-signin", "alerts_cursor": 1740916801235, "nested": {"a": 1}}`
	if err := os.WriteFile(p, []byte(seed), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Legacy("audit_cursor"); err != nil || !ok || v != "c-audit" {
		t.Fatalf("Legacy(audit_cursor) = %q, %v, %v", v, ok, err)
	}
	if v, ok, _ := s.Legacy("client-a.signin_cursor"); !ok || v != "c-signin" {
		t.Fatalf("Legacy(client-a.signin_cursor) = %q, %v", v, ok)
	}
	if _, ok, _ := s.Legacy("itemusage_cursor"); ok {
		t.Fatalf("Legacy found a key that is not there")
	}
	if v, ok, _ := s.Legacy("alerts_cursor"); !ok || v != "1740916801235" {
		t.Fatalf("Legacy(alerts_cursor) = %q, %v: the Cortex XDR seed's numeric cursor", v, ok)
	}
	if _, ok, _ := s.Legacy("nested"); ok {
		t.Fatalf("Legacy returned an object")
	}
	l, err := s.Lock(context.Background(), state.Key{Tenant: "default", Vendor: "1password", Stream: "audit"}, state.LockOptions{Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if _, err := l.Commit(context.Background(), state.Record{Cursor: json.RawMessage(`{"cursor":"new"}`)}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	var top map[string]any
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatalf("state file is not JSON after commit: %v", err)
	}
	if top["audit_cursor"] != "c-audit" || top["client-a.signin_cursor"] != "c-signin" {
		t.Fatalf("seed keys were not preserved: %s", b)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("file mode changed to %v", fi.Mode().Perm())
	}
}

func TestCorruptFileIsAnErrorNotAReset(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(p, []byte(`{"streams": {"default/1password/audit": {"version": 3,`), 0o600)
	s, _ := New(p)
	l, err := s.Lock(context.Background(), state.Key{Tenant: "default", Vendor: "1password", Stream: "audit"}, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(context.Background())
	if _, err := l.Load(context.Background()); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("Load: err = %v, want ErrCorrupt", err)
	}
	if _, err := l.Commit(context.Background(), state.Record{}); !errors.Is(err, state.ErrCorrupt) {
		t.Fatalf("Commit over a corrupt file: err = %v, want ErrCorrupt", err)
	}
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), `"version": 3`) {
		t.Fatalf("corrupt file was overwritten")
	}
}

// TestNullDocumentOrStreams: a state file of null, or with "streams":
// null, holds no records; a commit adds its own (it used to panic on a
// nil map).
func TestNullDocumentOrStreams(t *testing.T) {
	for _, content := range []string{`null`, `{"streams":null,"seed_key":"kept"}`} {
		p := filepath.Join(t.TempDir(), "state.json")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, _ := New(p)
		ctx := context.Background()
		l, err := s.Lock(ctx, audit, state.LockOptions{Owner: "t"})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := l.Load(ctx)
		if err != nil || rec.Version != 0 {
			t.Fatalf("%s: Load = %+v, %v; want no record", content, rec, err)
		}
		if _, err := l.Commit(ctx, state.Record{Cursor: json.RawMessage(`{"c":1}`)}); err != nil {
			t.Fatalf("%s: Commit: %v", content, err)
		}
		l.Release(ctx)
		again, _ := New(p)
		l, err = again.Lock(ctx, audit, state.LockOptions{Owner: "t"})
		if err != nil {
			t.Fatal(err)
		}
		if rec, err := l.Load(ctx); err != nil || string(rec.Cursor) != `{"c":1}` {
			t.Fatalf("%s: after a commit, Load = %+v, %v", content, rec, err)
		}
		l.Release(ctx)
		if b, _ := os.ReadFile(p); content != "null" && !strings.Contains(string(b), `"seed_key": "kept"`) {
			t.Fatalf("%s: the seed's key was lost: %s", content, b)
		}
	}
}

func TestNoTempFilesLeftBehind(t *testing.T) {
	dir := t.TempDir()
	s, _ := New(filepath.Join(dir, "state.json"))
	l, _ := s.Lock(context.Background(), state.Key{Tenant: "default", Vendor: "1password", Stream: "audit"}, state.LockOptions{})
	defer l.Release(context.Background())
	for v := int64(0); v < 5; v++ {
		if _, err := l.Commit(context.Background(), state.Record{Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temp file left: %s", e.Name())
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"version":3,"cursor":{"cursor":"x"},"seen":["1740916800123000000 KEY","0 z"],"updated_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":3,"seen":[{"k":"KEY","t":"2026-01-01T00:00:00.5Z"}],"updated_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":3,"seen":"AAAAAAAAAAAAAAAAAAAAAAI=","updated_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"seen":["nope"]}`))
	f.Add([]byte(`{"seen":"%%%"}`))
	f.Add([]byte(`{"version":4,"cursor":1,"pending":{"reader":"wazuh-modulesd pid=1 start=2","run_id":"r","cursor":{"c":"y"},"seen":"AAAAAAAAAAAAAAAAAAAAAAI="},"updated_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":4,"pending":{"seen":[{"k":"KEY","t":"2026-01-01T00:00:00.5Z"}]}}`))
	f.Add([]byte(`{"version":4,"pending":{"seen":"%%%"}}`))
	f.Add([]byte(`{"version":4,"pending":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := decodeRecord(raw)
		if err != nil {
			return
		}
		enc, err := encodeRecord(rec)
		if err != nil {
			if len(rec.Cursor) > 0 && !json.Valid(rec.Cursor) || rec.Pending != nil && len(rec.Pending.Cursor) > 0 && !json.Valid(rec.Pending.Cursor) {
				return
			}
			t.Fatalf("a decoded record does not encode: %v", err)
		}
		again, err := decodeRecord(enc)
		if err != nil {
			t.Fatalf("re-decoding our own encoding failed: %v\n%s", err, enc)
		}
		if again.Version != rec.Version || len(again.Seen) != len(rec.Seen) {
			t.Fatalf("round trip changed the record")
		}
		for i := range rec.Seen {
			if again.Seen[i].Digest != rec.Seen[i].Digest || !again.Seen[i].At.Equal(rec.Seen[i].At) {
				t.Fatalf("seen[%d] changed: %+v -> %+v", i, rec.Seen[i], again.Seen[i])
			}
		}
		if (again.Pending == nil) != (rec.Pending == nil) {
			t.Fatalf("round trip changed whether a pending position exists: %+v -> %+v", rec.Pending, again.Pending)
		}
		if p, q := rec.Pending, again.Pending; p != nil {
			if q.Reader != p.Reader || q.RunID != p.RunID || len(q.Seen) != len(p.Seen) || string(q.Cursor) != string(p.Cursor) {
				t.Fatalf("round trip changed the pending position: %+v -> %+v", p, q)
			}
			for i := range p.Seen {
				if q.Seen[i].Digest != p.Seen[i].Digest || !q.Seen[i].At.Equal(p.Seen[i].At) {
					t.Fatalf("pending seen[%d] changed: %+v -> %+v", i, p.Seen[i], q.Seen[i])
				}
			}
		}
	})
}

// TestCommitsReuseTheirFiles: once the scratch file exists, a commit
// neither creates nor deletes a file: it exchanges the two, so the scratch
// file then holds the previous state. Every commit leaves the state file
// holding its record, and the state file keeps the mode it was given.
func TestCommitsReuseTheirFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := os.WriteFile(p, []byte(`{"streams":{}}`), 0o640); err != nil {
		t.Fatal(err)
	}
	_, l := lockAudit(t, p)
	ctx := context.Background()
	var names []string
	var previous json.RawMessage
	for v := int64(0); v < 6; v++ {
		cursor := json.RawMessage(fmt.Sprintf(`{"page":%d,"pad":%q}`, v, strings.Repeat("x", int(6-v)*40)))
		if _, err := l.Commit(ctx, state.Record{Version: v, Cursor: cursor}); err != nil {
			t.Fatalf("commit %d: %v", v, err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Fatalf("commit %d: mode %v, want 0640", v, fi.Mode().Perm())
		}
		// Another process's view: a fresh store reads what was committed.
		other, _ := New(p)
		rec, err := readRecord(t, other)
		if err != nil || string(rec.Cursor) != string(cursor) {
			t.Fatalf("commit %d: state holds %s (%v), want %s", v, rec.Cursor, err, cursor)
		}
		if previous != nil {
			// Read through a copy: a store on the scratch file itself
			// would add its own lock file beside it.
			b, _ := os.ReadFile(p + ".next")
			copied := filepath.Join(t.TempDir(), "state.json")
			os.WriteFile(copied, b, 0o600)
			scratch, _ := New(copied)
			rec, err := readRecord(t, scratch)
			if err != nil || string(rec.Cursor) != string(previous) {
				t.Fatalf("commit %d: the scratch file holds %s (%v), want the previous state %s", v, rec.Cursor, err, previous)
			}
		}
		previous = cursor
		entries, _ := os.ReadDir(dir)
		names = names[:0]
		for _, e := range entries {
			names = append(names, e.Name())
		}
	}
	want := []string{"state.json", "state.json.default.1password.audit.lock", "state.json.lock", "state.json.next"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("directory holds %v, want %v", names, want)
	}
}

// TestShorterStateIsPaddedNotCut: content shorter than the scratch file
// it overwrites is padded with whitespace, so the file keeps its size (a
// truncation on every commit cost a journalled update), reads back as the
// shorter state, and stays JSON: a little shorter at any size, and any
// shorter within padBelow; content much shorter than a larger file is cut
// to its length, so a state that shrank for good does not keep its old
// size.
func TestShorterStateIsPaddedNotCut(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	_, l := lockAudit(t, p)
	ctx := context.Background()
	commit := func(v int64, padTo int) (json.RawMessage, int64) {
		t.Helper()
		cursor := json.RawMessage(fmt.Sprintf(`{"page":%d,"pad":%q}`, v, strings.Repeat("x", padTo)))
		if _, err := l.Commit(ctx, state.Record{Version: v, Cursor: cursor}); err != nil {
			t.Fatalf("commit %d: %v", v, err)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return cursor, fi.Size()
	}
	// Each commit writes over the file of the commit two before it (the
	// first rename leaves no scratch file), whose size it keeps when
	// padded. Sizes are compared with that file's: a record's updated_at
	// varies in length by a byte or two.
	const large = padBelow + 20_000
	_, full := commit(0, large)
	commit(1, large) // the scratch file now holds commit 0
	cursor, size := commit(2, large-100)
	if size != full {
		t.Fatalf("100 bytes shorter: state file of %d bytes, want %d (padded)", size, full)
	}
	b, _ := os.ReadFile(p)
	if !json.Valid(b) || !bytes.HasSuffix(b, []byte(strings.Repeat(" ", 80)+"\n")) {
		t.Fatalf("padded state file is not JSON ending in whitespace: ...%q", b[max(0, len(b)-40):])
	}
	other, _ := New(p)
	if rec, err := readRecord(t, other); err != nil || string(rec.Cursor) != string(cursor) {
		t.Fatalf("padded state reads %s (%v), want %s", rec.Cursor, err, cursor)
	}
	commit(3, large-100)
	cursor, size = commit(4, 10)
	b, _ = os.ReadFile(p)
	if size >= full/2 || int(size) != len(bytes.TrimRight(b, " \n"))+1 {
		t.Fatalf("%d bytes shorter: state file of %d bytes (%d before), want it cut to its content", large, size, full)
	}
	other, _ = New(p)
	if rec, err := readRecord(t, other); err != nil || string(rec.Cursor) != string(cursor) {
		t.Fatalf("cut state reads %s (%v), want %s", rec.Cursor, err, cursor)
	}
	// Within padBelow, much shorter content is padded too.
	commit(5, 10)
	_, small := commit(6, 3000)
	commit(7, 3000)
	cursor, size = commit(8, 10)
	if size != small {
		t.Fatalf("3 000 bytes shorter within %d: state file of %d bytes, want %d (padded)", padBelow, size, small)
	}
	other, _ = New(p)
	if rec, err := readRecord(t, other); err != nil || string(rec.Cursor) != string(cursor) {
		t.Fatalf("padded small state reads %s (%v), want %s", rec.Cursor, err, cursor)
	}
}

// TestWriteLockIsHeldOnlyDuringACommit: a lease keeps the write lock file
// open between its commits but never its lock, so another process can
// commit or read in between; Release closes what the commits opened.
func TestWriteLockIsHeldOnlyDuringACommit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	before := openFDs(t)
	_, l := lockAudit(t, p)
	for v := int64(0); v < 3; v++ {
		if _, err := l.Commit(context.Background(), state.Record{Version: v}); err != nil {
			t.Fatalf("commit %d: %v", v, err)
		}
		// Another open file description, as another process would have.
		f, err := os.OpenFile(p+".lock", os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		f.Close()
		if err != nil {
			t.Fatalf("after commit %d the write lock is still held: %v", v, err)
		}
	}
	if err := l.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Fatalf("%d descriptors open after Release, %d before Lock", after, before)
	}
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting descriptors needs Linux's /proc: %v", err)
	}
	return len(entries)
}

// readRecord loads the audit record through a second store, as another
// process would.
func readRecord(t *testing.T, s *Store) (state.Record, error) {
	t.Helper()
	doc, err := s.read(context.Background())
	if err != nil {
		return state.Record{}, err
	}
	return s.record(doc, audit.String())
}

// TestScratchFileLeftByACrash: a scratch file cut short or longer than
// the next state (a crash while it was written) is overwritten whole.
func TestScratchFileLeftByACrash(t *testing.T) {
	for _, left := range []string{`{"half":`, strings.Repeat(`{"streams":{}} garbage `, 200)} {
		dir := t.TempDir()
		p := filepath.Join(dir, "state.json")
		os.WriteFile(p, []byte(`{"streams":{}}`), 0o600)
		os.WriteFile(p+".next", []byte(left), 0o600)
		_, l := lockAudit(t, p)
		if _, err := l.Commit(context.Background(), state.Record{Cursor: json.RawMessage(`{"c":1}`)}); err != nil {
			t.Fatal(err)
		}
		other, _ := New(p)
		rec, err := readRecord(t, other)
		if err != nil || string(rec.Cursor) != `{"c":1}` {
			t.Fatalf("after a %d-byte scratch file: %s, %v", len(left), rec.Cursor, err)
		}
	}
}

// TestScratchFileLinkIsNotFollowed: a link planted under the scratch
// file's name fails the commit; its target is untouched and the state
// file keeps its content.
func TestScratchFileLinkIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	outside := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(outside, []byte("precious"), 0o600)
	os.WriteFile(p, []byte(`{"streams":{}}`), 0o600)
	os.Symlink(outside, p+".next")
	_, l := lockAudit(t, p)
	if _, err := l.Commit(context.Background(), state.Record{}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Commit with a linked scratch file: %v, want an error naming the link", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "precious" {
		t.Fatalf("the link's target changed: %q", b)
	}
	if b, _ := os.ReadFile(p); string(b) != `{"streams":{}}` {
		t.Fatalf("the state file changed: %q", b)
	}
}

// TestCommitSeesAnotherProcessesWrites: a commit rewrites the whole file,
// so it must start from the other streams' latest records, even when the
// file looks unchanged since this process wrote it: the state and scratch
// files exchange inodes, and two commits of another process within one
// tick of the file system's clock leave the same size and time.
func TestCommitSeesAnotherProcessesWrites(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "state.json")
	mine, _ := New(p)
	theirs, _ := New(p) // another process's store
	// A fixed clock: records of equal length whatever the time.
	at := func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) }
	mine.now, theirs.now = at, at
	signin := state.Key{Tenant: "default", Vendor: "1password", Stream: "signin"}
	l1, err := mine.Lock(ctx, audit, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Release(ctx)
	l2, err := theirs.Lock(ctx, signin, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release(ctx)
	commit := func(l state.Lease, v int64, cursor string) {
		t.Helper()
		if _, err := l.Commit(ctx, state.Record{Version: v, Cursor: json.RawMessage(cursor)}); err != nil {
			t.Fatal(err)
		}
	}
	commit(l2, 0, `{"c":"b0"}`)
	commit(l1, 0, `{"c":"a1"}`)
	seen, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	commit(l2, 1, `{"c":"b1"}`)
	commit(l2, 2, `{"c":"b2"}`)
	// As within one clock tick: the file has the inode, size and time it
	// had after this process's own commit.
	if err := os.Chtimes(p, seen.ModTime(), seen.ModTime()); err != nil {
		t.Fatal(err)
	}
	now, _ := os.Stat(p)
	if !os.SameFile(seen, now) || seen.Size() != now.Size() {
		t.Fatalf("test precondition: the file should be the same inode and size (%v %d, %v %d)", seen.Sys(), seen.Size(), now.Sys(), now.Size())
	}
	commit(l1, 1, `{"c":"a2"}`)
	other, _ := New(p)
	doc, err := other.read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := other.record(doc, signin.String())
	if err != nil || string(rec.Cursor) != `{"c":"b2"}` || rec.Version != 3 {
		t.Fatalf("the other stream's record is %s at version %d (%v), want {\"c\":\"b2\"} at 3: a stale copy was written back", rec.Cursor, rec.Version, err)
	}
	if rec, _ := other.record(doc, audit.String()); string(rec.Cursor) != `{"c":"a2"}` {
		t.Fatalf("this stream's record is %s, want {\"c\":\"a2\"}", rec.Cursor)
	}
}

// TestReadWaitsForACommitInProgress: a commit rewrites in place the file
// that was the state two commits before, so a read that is not served
// from the cache holds the write lock's file shared: it waits while a
// commit (here, a held write lock) is in progress.
func TestReadWaitsForACommitInProgress(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "state.json")
	w, _ := New(p)
	l, err := w.Lock(ctx, audit, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if _, err := l.Commit(ctx, state.Record{Cursor: json.RawMessage(`{"c":1}`)}); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(p+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	reader, _ := New(p) // another process: nothing cached
	done := make(chan error, 1)
	go func() {
		_, err := reader.read(context.Background())
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the read finished during a commit (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	// A reader whose context ends stops waiting.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := reader.read(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a read with its context cancelled during a commit: %v, want context.Canceled", err)
	}
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLinkedScratchFileIsReplaced: a scratch file with another name
// linked to it is replaced, not written through the link.
func TestLinkedScratchFileIsReplaced(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	other := filepath.Join(dir, "keep.json")
	os.WriteFile(p, []byte(`{"streams":{}}`), 0o600)
	os.WriteFile(other, []byte("precious"), 0o600)
	if err := os.Link(other, p+".next"); err != nil {
		t.Fatal(err)
	}
	s, l := lockAudit(t, p)
	if _, err := l.Commit(context.Background(), state.Record{Cursor: json.RawMessage(`{"c":1}`)}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(other); string(b) != "precious" {
		t.Fatalf("the linked file changed: %q", b)
	}
	rec, err := readRecord(t, s)
	if err != nil || string(rec.Cursor) != `{"c":1}` {
		t.Fatalf("state holds %s (%v)", rec.Cursor, err)
	}
}

// TestStateFileKeepsItsGroup: the group an operator gave the state file
// stays through commits, though the state and scratch files trade places.
func TestStateFileKeepsItsGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("this test changes a file's group to one the user is not in: it runs as root (as make test does)")
	}
	p := filepath.Join(t.TempDir(), "state.json")
	os.WriteFile(p, []byte(`{"streams":{}}`), 0o640)
	if err := os.Chown(p, -1, 65534); err != nil {
		t.Fatal(err)
	}
	_, l := lockAudit(t, p)
	for v := int64(0); v < 3; v++ {
		if _, err := l.Commit(context.Background(), state.Record{Version: v}); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(p)
		if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 65534 || fi.Mode().Perm() != 0o640 {
			t.Fatalf("commit %d: group %d mode %v, want 65534 and 0640", v, gid, fi.Mode().Perm())
		}
	}
}

// TestCommitByAUserOutsideTheStateFilesGroup: an owner may not give a
// file a group it is not in; the scratch file then keeps the user's own
// group, and the commit still happens. The commit runs in a child process
// (this test binary) under uid and gid 65534, against a state file whose
// group is root's.
func TestCommitByAUserOutsideTheStateFilesGroup(t *testing.T) {
	if dir := os.Getenv("FILESTORE_COMMIT_AS_CHILD"); dir != "" {
		s, err := New(filepath.Join(dir, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.Lock(context.Background(), audit, state.LockOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for v := int64(0); v < 3; v++ {
			if _, err := l.Commit(context.Background(), state.Record{Version: v, Cursor: json.RawMessage(`{"c":1}`)}); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if os.Getuid() != 0 {
		t.Fatal("this test runs a child as another user: it runs as root (as make test does)")
	}
	base := t.TempDir()
	// The child must reach it: the test's directory and its parent.
	os.Chmod(base, 0o755)
	os.Chmod(filepath.Dir(base), 0o755)
	dir := filepath.Join(base, "state")
	os.Mkdir(dir, 0o700)
	os.Chown(dir, 65534, 65534)
	p := filepath.Join(dir, "state.json")
	os.WriteFile(p, []byte(`{"streams":{}}`), 0o640)
	os.Chown(p, 65534, 0)
	// The test binary, where the child user may run it.
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "filestore.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestCommitByAUserOutsideTheStateFilesGroup$", "-test.count=1")
	cmd.Env = append(os.Environ(), "FILESTORE_COMMIT_AS_CHILD="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("commit as uid 65534: %v\n%s", err, out)
	}
	// Read as it is: a store here would refuse a directory root does not own.
	var doc struct {
		Streams map[string]json.RawMessage `json:"streams"`
	}
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("state file: %v: %s", err, b)
	}
	rec, err := decodeRecord(doc.Streams[audit.String()])
	if err != nil || rec.Version != 3 {
		t.Fatalf("state holds version %d (%v), want 3", rec.Version, err)
	}
	// The user's own group does not get the permissions meant for root's.
	fi, _ := os.Stat(p)
	if gid := fi.Sys().(*syscall.Stat_t).Gid; gid != 65534 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file group %d mode %v, want the user's group 65534 without group permissions (0600)", gid, fi.Mode().Perm())
	}
}

// TestDirectoryFsyncBeforeOverwritingTheScratchFile: the scratch file is
// overwritten only once the exchange that made it the scratch file is
// durable. A store that saw its own last directory fsync adds none; after
// a writer that may have died between its exchange and its directory
// fsync (the lock file's durable generation lags), the next commit fsyncs
// the directory first.
func TestDirectoryFsyncBeforeOverwritingTheScratchFile(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "state.json")
	fsyncs := 0
	count := func(fd int) error { fsyncs++; return syscall.Fsync(fd) }
	commit := func(s *Store, key state.Key, v int64) int {
		t.Helper()
		l, err := s.Lock(ctx, key, state.LockOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(ctx)
		before := fsyncs
		if _, err := l.Commit(ctx, state.Record{Version: v}); err != nil {
			t.Fatal(err)
		}
		return fsyncs - before
	}
	mine, _ := New(p)
	mine.fsyncDir = count
	if n := commit(mine, audit, 0); n != 2 {
		t.Fatalf("first commit: %d directory fsyncs, want 2 (nothing known durable yet)", n)
	}
	if n := commit(mine, audit, 1); n != 1 {
		t.Fatalf("second commit: %d directory fsyncs, want 1", n)
	}
	theirs, _ := New(p) // another process, after a completed commit
	theirs.fsyncDir = count
	signin := state.Key{Tenant: "default", Vendor: "1password", Stream: "signin"}
	if n := commit(theirs, signin, 0); n != 1 {
		t.Fatalf("another process's commit after a durable one: %d directory fsyncs, want 1", n)
	}
	// A writer that died after its exchange, before its directory fsync.
	lock, err := os.OpenFile(p+".lock", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := readLockState(lock)
	if err != nil || ls.durable != ls.gen {
		t.Fatalf("lock state %+v (%v), want a durable generation", ls, err)
	}
	ls.gen++
	writeLockState(lock, ls)
	lock.Close()
	if n := commit(mine, audit, 2); n != 2 {
		t.Fatalf("commit after a writer died before its directory fsync: %d directory fsyncs, want 2", n)
	}
}

// lockAudit opens a store on the state file p and takes the audit
// stream's lease, released when the test ends.
func lockAudit(t *testing.T, p string) (*Store, state.Lease) {
	t.Helper()
	s, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Lock(context.Background(), audit, state.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Release(context.Background()) })
	return s, l
}

// FuzzScanRecord: whatever record the jsonscan path accepts, it decodes
// exactly as encoding/json does (the path every record took before).
func FuzzScanRecord(f *testing.F) {
	seen := base64.StdEncoding.EncodeToString(state.EncodeSeen([]state.Seen{
		{Digest: state.KeyDigest("a"), At: time.Unix(1767225600, 0)},
		{Digest: state.KeyDigest("b"), At: time.Unix(1767225660, 0)},
	}))
	f.Add([]byte(`{"version":3,"cursor":{"cursor":"x"},"seen":"` + seen + `","updated_at":"2026-01-01T00:00:00.123Z"}`))
	f.Add([]byte(`{"version":4,"cursor":1,"pending":{"reader":"wazuh-modulesd pid=1 start=2","run_id":"r","cursor":{"c":"y"},"seen":"` + seen + `"},"seen":"","updated_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":4,"pending":null,"cursor":null,"seen":null}`))
	f.Add([]byte(`{"Version":4,"version":5}`))
	f.Add([]byte(`{"version":4,"pending":{"reader":"a\u0062"}}`))
	f.Add([]byte(`{"version":1e2}`))
	f.Add([]byte(`{"seen":"AAAAAAAAAAAAAAAAAAAAAA"}`))
	f.Add([]byte(`{"pending":{"reader":"a"},"pending":{"run_id":"b"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, ok := scanRecord(raw)
		if !ok {
			return
		}
		slow, err := decodeRecordJSON(raw)
		if err != nil {
			t.Fatalf("jsonscan accepted a record encoding/json refuses (%v): %s", err, raw)
		}
		if d := recordDiff(fast, slow); d != "" {
			t.Fatalf("jsonscan and encoding/json disagree on %s: %s", raw, d)
		}
	})
}

// FuzzScanDocument: whatever state file the jsonscan path accepts, it
// splits exactly as encoding/json does.
func FuzzScanDocument(f *testing.F) {
	f.Add([]byte("{\n \"wazuh_pull_format\": 2,\n \"streams\": {\n  \"t/1password/audit\": {\"version\":1}\n },\n \"cursor\": \"seed\"\n}\n"))
	f.Add([]byte(`{"streams":{"a":1},"streams":{"b":2}}`))
	f.Add([]byte(`{"streams":null}`))
	f.Add([]byte(`{"str\u0065ams":{"a":1}}`))
	f.Add([]byte(`{"a":1} x`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast := &document{top: map[string]json.RawMessage{}, streams: map[string]json.RawMessage{}}
		if !scanDocument(b, fast) {
			return
		}
		slow, err := decodeDocumentJSON(b)
		if err != nil {
			t.Fatalf("jsonscan accepted a file encoding/json refuses (%v): %s", err, b)
		}
		delete(slow.top, streamsKey)
		if !sameMembers(fast.top, slow.top) || !sameMembers(fast.streams, slow.streams) {
			t.Fatalf("jsonscan and encoding/json disagree on %s:\n%v %v\n%v %v", b, fast.top, fast.streams, slow.top, slow.streams)
		}
	})
}

func sameMembers(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || string(v) != string(w) {
			return false
		}
	}
	return true
}

// recordDiff says how two records differ ("" when they do not).
func recordDiff(a, b state.Record) string {
	switch {
	case a.Version != b.Version:
		return fmt.Sprintf("version %d, %d", a.Version, b.Version)
	case string(a.Cursor) != string(b.Cursor) || (a.Cursor == nil) != (b.Cursor == nil):
		return fmt.Sprintf("cursor %s, %s", a.Cursor, b.Cursor)
	case !a.UpdatedAt.Equal(b.UpdatedAt) || a.UpdatedAt.Location().String() != b.UpdatedAt.Location().String():
		return fmt.Sprintf("updated_at %v, %v", a.UpdatedAt, b.UpdatedAt)
	case !sameSeenEntries(a.Seen, b.Seen):
		return fmt.Sprintf("seen %v, %v", a.Seen, b.Seen)
	case (a.Pending == nil) != (b.Pending == nil):
		return fmt.Sprintf("pending %+v, %+v", a.Pending, b.Pending)
	}
	if p, q := a.Pending, b.Pending; p != nil {
		if string(p.Cursor) != string(q.Cursor) || (p.Cursor == nil) != (q.Cursor == nil) || p.Reader != q.Reader || p.RunID != q.RunID || !sameSeenEntries(p.Seen, q.Seen) {
			return fmt.Sprintf("pending %+v, %+v", p, q)
		}
	}
	return ""
}

func sameSeenEntries(a, b []state.Seen) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i].Digest != b[i].Digest || !a[i].At.Equal(b[i].At) {
			return false
		}
	}
	return true
}

// TestOwnFilesTakeTheFastPath: the records and files this store writes are
// read by jsonscan, not left to encoding/json (each run reads them all).
func TestOwnFilesTakeTheFastPath(t *testing.T) {
	seen := []state.Seen{{Digest: state.KeyDigest("k"), At: time.Unix(1767225600, 0)}}
	rec := state.Record{Version: 7, Cursor: json.RawMessage(`{"cursor":"c"}`), Seen: seen, UpdatedAt: time.Unix(1767225601, 5).UTC(),
		Pending: &state.Pending{Cursor: json.RawMessage(`{"cursor":"d"}`), Seen: seen, Reader: `wazuh-modulesd pid=1 start=2`, RunID: "r1"}}
	raw, err := encodeRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := scanRecord(raw)
	if !ok {
		t.Fatalf("our own record left to encoding/json: %s", raw)
	}
	if d := recordDiff(got, rec); d != "" {
		t.Fatalf("record read back differently: %s", d)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	s, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := s.Lock(ctx, audit, state.LockOptions{Owner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	rec.Version = 0
	if _, err := l.Commit(ctx, rec); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := &document{top: map[string]json.RawMessage{}, streams: map[string]json.RawMessage{}}
	if !scanDocument(b, doc) || len(doc.streams) != 1 {
		t.Fatalf("our own state file left to encoding/json: %s", b)
	}
}
