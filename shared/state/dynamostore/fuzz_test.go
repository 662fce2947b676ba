package dynamostore

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/wazuh-pull/wazuh-pull/shared/state"
)

// FuzzDecodeItem feeds arbitrary stored items to the decoder. Whatever is
// stored, Load must either return a record or an error wrapping
// state.ErrCorrupt; it must never panic or silently return version 0 for
// an item that carries commit data.
//
// kinds selects, bit by bit, which attributes are present and whether the
// numeric ones are stored with the wrong type.
func FuzzDecodeItem(f *testing.F) {
	good := []state.Seen{{Key: "a b", At: time.Unix(1772409599, 5)}, {Key: "c", At: time.Unix(0, 0)}}
	list, _ := encodeSeen(good)
	var entries []string
	for _, e := range list {
		entries = append(entries, e.(*types.AttributeValueMemberS).Value)
	}
	f.Add(uint16(0x1f), "3", "1", `{"c":1}`, strings.Join(entries, "\n"), "2026-03-02T08:00:00.000000001Z", "tok", "1772409599000")
	f.Add(uint16(0x1f), "3", "1", `{"c":1}`, "-62135596800 zero\n1.123456789 x", "2026-03-02T08:00:00Z", "", "")
	f.Add(uint16(0x00), "", "", "", "", "", "tok", "5")
	f.Add(uint16(0x1f), "0", "1", `null`, "", "2026-03-02T08:00:00Z", "", "")
	f.Add(uint16(0x3f), "9223372036854775807", "2", `[`, "x", "now", "", "x")
	f.Add(uint16(0x1f), "1", "1", `1`, "9223372036854775807.999999999 k\n-9223372036854775808 k", "2026-03-02T08:00:00Z", "", "")
	f.Fuzz(func(t *testing.T, kinds uint16, version, format, cursor, seen, updated, token, expires string) {
		item := map[string]types.AttributeValue{}
		numOrStr := func(bit uint16, v string) types.AttributeValue {
			if kinds&bit != 0 {
				return &types.AttributeValueMemberS{Value: v}
			}
			return &types.AttributeValueMemberN{Value: v}
		}
		if kinds&0x01 != 0 {
			item[attrVersion] = numOrStr(0x100, version)
		}
		if kinds&0x02 != 0 {
			item[attrFormat] = numOrStr(0x200, format)
		}
		if kinds&0x04 != 0 {
			item[attrCursor] = &types.AttributeValueMemberS{Value: cursor}
		}
		if kinds&0x08 != 0 {
			var l []types.AttributeValue
			for _, e := range strings.Split(seen, "\n") {
				if kinds&0x400 != 0 {
					l = append(l, &types.AttributeValueMemberN{Value: e})
				} else {
					l = append(l, &types.AttributeValueMemberS{Value: e})
				}
			}
			if kinds&0x800 != 0 {
				item[attrSeen] = &types.AttributeValueMemberS{Value: seen}
			} else {
				item[attrSeen] = &types.AttributeValueMemberL{Value: l}
			}
		}
		if kinds&0x10 != 0 {
			item[attrUpdatedAt] = &types.AttributeValueMemberS{Value: updated}
		}
		if kinds&0x20 != 0 {
			item[attrToken] = &types.AttributeValueMemberS{Value: token}
			item[attrExpires] = numOrStr(0x1000, expires)
		}
		it, err := decodeItem(item)
		if err != nil {
			if !errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		hasData := kinds&0x1f != 0
		if hasData && it.rec.Version < 1 {
			t.Fatalf("an item with commit data decoded as version %d", it.rec.Version)
		}
		// What was decoded must survive another round through the encoder.
		list, _ := encodeSeen(it.rec.Seen)
		again, err := decodeSeen(&types.AttributeValueMemberL{Value: list})
		if err != nil || len(again) != len(it.rec.Seen) {
			t.Fatalf("re-encoded seen set does not decode: %v", err)
		}
		for i := range again {
			if again[i].Key != it.rec.Seen[i].Key || !again[i].At.Equal(it.rec.Seen[i].At) {
				t.Fatalf("seen[%d] changed: %+v -> %+v", i, it.rec.Seen[i], again[i])
			}
		}
	})
}

// FuzzSeenRoundTrip: every key the store accepts comes back byte for byte
// with its time to the nanosecond.
func FuzzSeenRoundTrip(f *testing.F) {
	f.Add("7QZ3KXWPMBDR5HCN2LTF6Y0001", int64(1772409599), int64(118273645))
	f.Add("with space and \"quotes\" \\ and \x01", int64(-62135596800), int64(0))
	f.Add("", int64(0), int64(999999999))
	f.Fuzz(func(t *testing.T, key string, sec, nsec int64) {
		if !utf8.ValidString(key) || nsec < 0 || nsec >= 1e9 {
			return
		}
		// Times the time package itself cannot represent are out of scope.
		at := time.Unix(sec, nsec)
		if at.Unix() != sec {
			return
		}
		list, _ := encodeSeen([]state.Seen{{Key: key, At: at}})
		got, err := decodeSeen(&types.AttributeValueMemberL{Value: list})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Key != key || !got[0].At.Equal(at) {
			t.Fatalf("round trip: %+v -> %+v", state.Seen{Key: key, At: at}, got)
		}
	})
}
