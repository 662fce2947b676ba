// Command gencases regenerates the rule test cases (rules/tests/*.json)
// from the collectors' output: go run ./rules/casegen/gencases [-vendor name].
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/rules/casegen"
)

func main() {
	dir := flag.String("rules", "rules", "the repository's rules directory")
	only := flag.String("vendor", "", "regenerate only this vendor (integration name)")
	flag.Parse()
	if err := run(context.Background(), *dir, *only); err != nil {
		fmt.Fprintln(os.Stderr, "gencases:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir, only string) error {
	set, err := rules.Load()
	if err != nil {
		return err
	}
	for _, v := range casegen.Vendors() {
		if only != "" && v.Name != only {
			continue
		}
		f, err := casegen.Build(ctx, v, set)
		if err != nil {
			return err
		}
		b, err := f.Marshal()
		if err != nil {
			return err
		}
		path := casegen.Path(dir, v)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		fmt.Printf("%s: %d cases (%s)\n", path, len(f.Cases), f.Origin)
	}
	return nil
}
