package state

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"testing"
	"time"
)

func TestKeyDigestIsTruncatedSHA256(t *testing.T) {
	for _, key := range []string{"", "E000001", "\xff\xfe not UTF-8", string(make([]byte, 1<<20))} {
		sum := sha256.Sum256([]byte(key))
		if d := KeyDigest(key); hex.EncodeToString(d[:]) != hex.EncodeToString(sum[:DigestSize]) {
			t.Fatalf("KeyDigest(%.20q) = %x", key, d)
		}
	}
	if KeyDigest("a") == KeyDigest("a\x00") {
		t.Fatal("keys differing in a trailing NUL have the same digest")
	}
}

func TestSeenEncodingIsCompact(t *testing.T) {
	base := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	var seen []Seen
	for i := range 1000 {
		seen = append(seen, Seen{Digest: KeyDigest(string(rune(i))), At: base.Add(time.Duration(i) * 50 * time.Millisecond)})
	}
	b := EncodeSeen(seen)
	// The first time takes 5 bytes, the others one.
	if want := 1000*(DigestSize+1) + 4; len(b) != want {
		t.Fatalf("1000 keys 50 ms apart take %d bytes, want %d", len(b), want)
	}
	got, err := DecodeSeen(nil, b)
	if err != nil || len(got) != 1000 {
		t.Fatal(err)
	}
	for i := range seen {
		if got[i].Digest != seen[i].Digest || got[i].At.Unix() != SeenSeconds(seen[i].At) {
			t.Fatalf("entry %d: %v -> %v", i, seen[i], got[i])
		}
	}
}

func TestSeenSecondsRoundsUp(t *testing.T) {
	for _, c := range []struct {
		at   time.Time
		want int64
	}{
		{time.Unix(100, 0), 100},
		{time.Unix(100, 1), 101},
		{time.Unix(-100, 1), -99},
		{time.Time{}, time.Time{}.Unix()},
	} {
		if got := SeenSeconds(c.at); got != c.want {
			t.Errorf("SeenSeconds(%s) = %d, want %d", c.at, got, c.want)
		}
	}
	if !SeenTime(SeenSeconds(time.Time{})).IsZero() {
		t.Error("the zero time does not survive")
	}
}

// FuzzSeenCodec: any sequence of entries survives encoding with its times
// rounded up to the second, and any byte string either decodes into
// entries that encode back to the same bytes or is an error.
func FuzzSeenCodec(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), int64(1772409599), int64(118273645), int64(-62135596800), []byte{})
	f.Add([]byte{}, int64(math.MaxInt64), int64(0), int64(math.MinInt64), []byte("0123456789abcdef\x02"))
	f.Fuzz(func(t *testing.T, key []byte, sec1, nsec, sec2 int64, raw []byte) {
		nsec = max(min(nsec, 999999999), 0)
		// Times the time package itself cannot represent are out of scope.
		a, b := time.Unix(sec1, nsec), time.Unix(sec2, 0)
		if a.Unix() != sec1 || b.Unix() != sec2 || SeenTime(SeenSeconds(a)).Unix() != SeenSeconds(a) {
			return
		}
		in := []Seen{{Digest: KeyDigest(string(key)), At: a}, {Digest: KeyDigest(string(raw)), At: b}, {At: a}}
		out, err := DecodeSeen(nil, EncodeSeen(in))
		if err != nil || len(out) != len(in) {
			t.Fatalf("round trip: %v", err)
		}
		for i := range in {
			if out[i].Digest != in[i].Digest || out[i].At.Unix() != SeenSeconds(in[i].At) {
				t.Fatalf("entry %d: %+v -> %+v", i, in[i], out[i])
			}
		}
		dec, err := DecodeSeen(nil, raw)
		if err != nil {
			return
		}
		if string(EncodeSeen(dec)) != string(raw) && !nonMinimalVarint(raw) {
			t.Fatalf("decoded %d entries do not encode back to the same bytes", len(dec))
		}
	})
}

// nonMinimalVarint reports input whose varints are not in their shortest
// form (0x80 0x00 decodes like 0x00): it decodes, but is not what the
// encoder writes.
func nonMinimalVarint(b []byte) bool {
	for len(b) > DigestSize {
		b = b[DigestSize:]
		n := 0
		for n < len(b) && b[n] >= 0x80 {
			n++
		}
		if n >= len(b) {
			return true
		}
		if n > 0 && b[n] == 0 {
			return true
		}
		b = b[n+1:]
	}
	return false
}
