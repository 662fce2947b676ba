// Command costmodel prints the AWS cost model's table (infra/cost) from
// the measured figures, or writes it into a README between the markers
// "<!-- cost table -->" and "<!-- end cost table -->":
//
//	go run ./infra/cmd/costmodel                        # print
//	go run ./infra/cmd/costmodel -readme infra/README.md # update the README
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wazuh-pull/wazuh-pull/infra/cost"
)

func main() {
	readme := flag.String("readme", "", "replace the cost table in this Markdown file")
	flag.Parse()
	f, err := cost.Measured()
	if err != nil {
		fail(err)
	}
	table := cost.Table(f, cost.Default, cost.USEast1)
	if *readme == "" {
		fmt.Print(table)
		return
	}
	doc, err := os.ReadFile(*readme)
	if err != nil {
		fail(err)
	}
	out, err := cost.ReplaceTable(string(doc), table)
	if err != nil {
		fail(fmt.Errorf("%s: %w", *readme, err))
	}
	if err := os.WriteFile(*readme, []byte(out), 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "costmodel:", err)
	os.Exit(1)
}
