package tenantsfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/spec/spectest"
)

func TestReadTenantsFile(t *testing.T) {
	d := spectest.Descriptor()
	dir := t.TempDir()
	write := func(body string, mode os.FileMode) string {
		p := filepath.Join(dir, "t.json")
		os.WriteFile(p, []byte(body), 0o600)
		os.Chmod(p, mode)
		return p
	}
	ok := write(`{"tenants":[{"name":"client-a","api_key":"SECRETA"},{"name":"b_2","api_key":"SECRETB","base_url":"https://toy.example.org"}]}`, 0o640)
	list, err := Read(ok, &d)
	if err != nil || len(list) != 2 || list[0].Credentials["api_key"] != "SECRETA" || list[1].Credentials["base_url"] != "https://toy.example.org" {
		t.Fatalf("%v %v", list, err)
	}
	for _, bad := range []string{
		`{"tenants":[]}`, `{"tenants":[{"name":"x"}]}`, `{"tenants":[{"name":"a b","api_key":"SECRETX"}]}`,
		`{"tenants":[{"name":"a","api_key":"SECRETX"},{"name":"a","api_key":"SECRETY"}]}`, `{"tenants":[{"name":"a","api_key":"SECRETX"`,
		`{"tenants":[{"name":"a","api_key":["SECRETX"]}]}`, `{"tenants":{"name":"a"}}`, `[]`,
	} {
		_, err := Read(write(bad, 0o640), &d)
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
	if _, err := Read(write(`{"tenants":[{"name":"a","api_key":"SECRETX"}]}`, 0o666), &d); err == nil {
		t.Error("world-writable tenants file accepted")
	}
}
