package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
	})
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
	f.Add([]byte(`{"seen":["nope"]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := decodeRecord(raw)
		if err != nil {
			return
		}
		enc, err := encodeRecord(rec)
		if err != nil {
			return // e.g. a key that is not valid UTF-8
		}
		again, err := decodeRecord(enc)
		if err != nil {
			t.Fatalf("re-decoding our own encoding failed: %v\n%s", err, enc)
		}
		if again.Version != rec.Version || len(again.Seen) != len(rec.Seen) {
			t.Fatalf("round trip changed the record")
		}
		for i := range rec.Seen {
			if again.Seen[i].Key != rec.Seen[i].Key || !again.Seen[i].At.Equal(rec.Seen[i].At) {
				t.Fatalf("seen[%d] changed: %+v -> %+v", i, rec.Seen[i], again.Seen[i])
			}
		}
	})
}
