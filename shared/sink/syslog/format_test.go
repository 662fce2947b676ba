package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

func TestPrefix(t *testing.T) {
	at := time.Date(2026, time.January, 5, 7, 8, 9, 123456789, time.FixedZone("CET", 3600))
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Facility: 16, Severity: 6}, "<134>"},
		{Config{Facility: 1, Severity: 3}, "<11>"},
		{Config{Facility: 23, Severity: 7}, "<191>"},
		// UTC, space-padded day, no year, zone or fraction.
		{Config{Facility: 16, Severity: 6, Header: true, Hostname: "lambda", Tag: "wazuh-pull"}, "<134>Jan  5 06:08:09 lambda wazuh-pull: "},
	}
	for _, c := range cases {
		if got := string(appendPrefix(nil, c.cfg, at)); got != c.want {
			t.Errorf("prefix = %q, want %q", got, c.want)
		}
	}
	// The header's length must not depend on the date: Overhead is a constant.
	hc := cases[3].cfg
	for _, d := range []time.Time{time.Date(2026, 12, 25, 23, 59, 59, 0, time.UTC), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)} {
		p := string(appendPrefix(nil, hc, d))
		if len(p) != overhead(hc) {
			t.Errorf("prefix %q has %d bytes, Overhead says %d", p, len(p), overhead(hc))
		}
		if strings.ContainsAny(p[5:20], "TZ+") {
			t.Errorf("header timestamp %q looks like RFC 3339", p)
		}
	}
}

func TestCheckLines(t *testing.T) {
	ok := []string{"", "a\n", "a\nbb\n", "\n", "abc\n\nd\n"}
	for _, b := range ok {
		if _, err := checkLines([]byte(b), 3, 5); err != nil {
			t.Errorf("checkLines(%q): %v", b, err)
		}
	}
	if n, _ := checkLines([]byte("a\n\nb\n"), 3, 5); n != 2 {
		t.Errorf("counted %d lines, want 2 (empty lines are not events)", n)
	}
	if _, err := checkLines([]byte("a\nb"), 3, 5); !errors.Is(err, sink.ErrPartialLine) {
		t.Errorf("unterminated: %v", err)
	}
	_, err := checkLines([]byte("abc\nabcd\n"), 3, 5)
	if !errors.Is(err, sink.ErrLineTooLong) || !strings.Contains(err.Error(), "line 2 of this write is 9 bytes") {
		t.Errorf("too long: %v", err)
	}
}

// frame runs the real write path into memory.
func frame(prefix, b []byte) []byte {
	var out bytes.Buffer
	w := bufio.NewWriterSize(&out, 16) // tiny, to cross buffer boundaries
	if err := writeFramed(w, prefix, b); err != nil {
		panic(err)
	}
	w.Flush()
	return out.Bytes()
}

// FuzzFrame: whatever the input, Write either refuses it whole or emits its
// non-empty lines in order, each with the prefix, none split or merged, and
// never a line longer than the maximum.
func FuzzFrame(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":\"x\\ny\"}\n"), 20)
	f.Add([]byte("\n\n{}\n"), 5)
	f.Add([]byte("no newline"), 100)
	f.Add([]byte("caf\xc3\xa9\r\n\x00\n"), 3)
	f.Fuzz(func(t *testing.T, b []byte, maxBody int) {
		if maxBody < 1 || maxBody > 1<<16 {
			return
		}
		prefix := []byte("<134>")
		n, err := checkLines(b, maxBody, len(prefix))
		if err != nil {
			if !errors.Is(err, sink.ErrPartialLine) && !errors.Is(err, sink.ErrLineTooLong) {
				t.Fatalf("unexpected error %v", err)
			}
			if errors.Is(err, sink.ErrPartialLine) && len(b) > 0 && b[len(b)-1] == '\n' {
				t.Fatal("terminated input called partial")
			}
			return
		}
		var want [][]byte
		for _, l := range bytes.SplitAfter(b, []byte("\n")) {
			if len(l) > 1 {
				want = append(want, append(append([]byte(nil), prefix...), l...))
			}
		}
		if len(want) != n {
			t.Fatalf("checkLines counted %d lines, input has %d", n, len(want))
		}
		got := frame(prefix, b)
		if !bytes.Equal(got, bytes.Join(want, nil)) {
			t.Fatalf("framed %q\nwant   %q", got, bytes.Join(want, nil))
		}
		for _, l := range bytes.SplitAfter(got, []byte("\n")) {
			if len(l) > 0 && len(l)-1 > maxBody+len(prefix) {
				t.Fatalf("emitted a %d-byte line, max %d", len(l)-1, maxBody+len(prefix))
			}
		}
	})
}

// FuzzParseURL: ParseURL never panics, and what it accepts round-trips
// through Endpoint.String.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"tls://relay:6514", "tcp://[::1]:514", "udp://h", "tls://u:p@h", "tcp://h:99999", "tls://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ep, err := ParseURL(raw)
		if err != nil {
			return
		}
		if ep.Port < 1 || ep.Port > 65535 || ep.Host == "" {
			t.Fatalf("accepted %q as %+v", raw, ep)
		}
		again, err := ParseURL(ep.String())
		if err != nil || again != ep {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", raw, ep, ep.String(), again, err)
		}
	})
}
