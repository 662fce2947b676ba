package utctime

import (
	"testing"
	"time"
)

func TestParseAgreesWithTimeParse(t *testing.T) {
	for _, s := range []string{"2025-03-02T08:15:41.118273645Z", "2025-03-02T07:44:03Z", "2025-03-02T09:02:11.482Z", "2024-02-29T23:59:59.5Z"} {
		want, _ := time.Parse(time.RFC3339Nano, s)
		got, ok := Parse([]byte(s))
		if !ok || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", s, got, ok, want)
		}
		if got, ok := Parse(s); !ok || !got.Equal(want) {
			t.Errorf("%s as a string: %v %v, want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"2025-02-30T00:00:00Z", "2025-03-02T08:15:41+01:00", "2025-03-02 08:15:41Z", "2025-13-02T08:15:41Z", "2025-03-02T08:15:41.Z", "2025-03-02T08:15:41.1234567891Z", "2025-03-02T24:00:00Z", ""} {
		if _, ok := Parse(s); ok {
			t.Errorf("%q accepted", s)
		}
	}
}

// FuzzParse: whatever Parse accepts, time.Parse reads as the same instant.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"2025-03-02T08:15:41.118273645Z", "2025-03-02T07:44:03Z", "2024-02-29T23:59:59.5Z", "2025-02-30T00:00:00Z", "2025-03-02T08:15:41+01:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Parse(s)
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Fatalf("Parse(%q) = %v, time.Parse = %v, %v", s, got, want, err)
		}
	})
}
