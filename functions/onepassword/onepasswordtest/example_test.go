package onepasswordtest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
)

// A client pages through a backlog, meets an injected 429 on the way, and
// keeps the cursor of the last (caught-up) page for its next poll.
func Example() {
	srv := onepasswordtest.New(onepasswordtest.Options{})
	defer srv.Close()
	token := srv.AddAccount("acme", onepasswordtest.Account{Seed: 1})
	srv.Generate("acme", onepasswordtest.StreamAuditEvents, 250, time.Now().Add(-30*time.Minute), time.Second)
	srv.Inject(onepasswordtest.Fault{
		Endpoint: onepasswordtest.StreamAuditEvents, Kind: onepasswordtest.FaultRateLimit, RetryAfter: 2 * time.Second,
	})

	body := `{"limit":100}`
	for {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/auditevents", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			fmt.Println("429, Retry-After:", resp.Header.Get("Retry-After"))
			continue // a real client would wait
		}
		var page struct {
			Cursor  string            `json:"cursor"`
			HasMore bool              `json:"has_more"`
			Items   []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(len(page.Items), "items, has_more:", page.HasMore)
		next, _ := json.Marshal(map[string]string{"cursor": page.Cursor})
		body = string(next)
		if !page.HasMore {
			break // store page.Cursor; the next poll starts from it
		}
	}
	// Output:
	// 429, Retry-After: 2
	// 100 items, has_more: true
	// 100 items, has_more: true
	// 50 items, has_more: false
}
