package jsonscan

import "testing"

// FuzzPlainRun holds the word-at-a-time plainRun to a byte loop.
func FuzzPlainRun(f *testing.F) {
	f.Add([]byte(`abcdefghijklmnopqrstuvwxyz"`), 0)
	f.Add([]byte("0123456789abcdef\\x"), 3)
	f.Add([]byte("aaaaaaa\x1faaaaaaaaaaaaaaa\x80"), 1)
	f.Add([]byte("!!!!!!!!!!!!!!!!!!!!#\xff"), 0)
	f.Fuzz(func(t *testing.T, b []byte, i int) {
		if i < 0 || i > len(b) {
			return
		}
		want := i
		for want < len(b) {
			c := b[want]
			if c == '"' || c == '\\' || c < 0x20 || c >= 0x80 {
				break
			}
			want++
		}
		if got := plainRun(b, i); got != want {
			t.Fatalf("plainRun(%q, %d) = %d, want %d", b, i, got, want)
		}
	})
}
