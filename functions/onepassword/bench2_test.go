package onepassword

import (
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/jsonscan"
)

func BenchmarkSkipPage(b *testing.B) {
	page := simPage(b, 1000)
	b.SetBytes(int64(len(page)))
	for i := 0; i < b.N; i++ {
		jsonscan.Skip(page)
	}
}

func BenchmarkStripPage(b *testing.B) {
	page := simPage(b, 1000)
	b.SetBytes(int64(len(page)))
	out := make([]byte, 0, 2<<20)
	for i := 0; i < b.N; i++ {
		out, _, _, _ = jsonscan.Strip(out[:0], page, nil)
	}
}
