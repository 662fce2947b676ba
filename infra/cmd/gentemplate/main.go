// Command gentemplate writes the SAM template of the AWS deployment for
// every registered vendor (functions/registry), from their descriptors:
//
//	go run ./infra/cmd/gentemplate -o infra/template.yaml
//
// (go generate ./infra runs it). Without -o it prints the template.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wazuh-pull/wazuh-pull/functions/registry"
	"github.com/wazuh-pull/wazuh-pull/infra/gen"
)

func main() {
	out := flag.String("o", "", "write the template to this file instead of standard output")
	flag.Parse()
	b, err := gen.Template(registry.Vendors())
	if err != nil {
		fmt.Fprintln(os.Stderr, "gentemplate:", err)
		os.Exit(1)
	}
	if *out == "" {
		os.Stdout.Write(b)
		return
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gentemplate:", err)
		os.Exit(1)
	}
}
