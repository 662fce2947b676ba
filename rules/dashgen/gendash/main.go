// Command gendash rewrites the dashboards in rules/dashboards from
// rules/dashgen: go run ./rules/dashgen/gendash.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wazuh-pull/wazuh-pull/rules/dashgen"
)

func main() {
	dir := flag.String("dir", "rules/dashboards", "where the .ndjson files go")
	flag.Parse()
	for _, d := range dashgen.All() {
		b, err := d.NDJSON()
		if err != nil {
			fmt.Fprintln(os.Stderr, "gendash:", err)
			os.Exit(1)
		}
		path := filepath.Join(*dir, d.File)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gendash:", err)
			os.Exit(1)
		}
		fmt.Printf("%s: %d panels\n", path, len(d.Panels))
	}
}
