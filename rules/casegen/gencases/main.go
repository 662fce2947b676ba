// Command gencases regenerates the rule test cases (rules/tests/*.json)
// from the collectors' output, and the rules reference in rules/README.md
// from the rule files: go run ./rules/casegen/gencases [-vendor name].
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
	readme := flag.Bool("readme", true, "also rewrite the rules reference in rules/README.md")
	flag.Parse()
	if err := run(context.Background(), *dir, *only, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "gencases:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dir, only string, readme bool) error {
	set, err := rules.Load()
	if err != nil {
		return err
	}
	if readme {
		path := filepath.Join(dir, "README.md")
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out, err := rules.ReplaceReference(string(b), rules.ReferenceMarkdown(set))
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			return err
		}
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
		// A file whose cases only differ in volatile error text is kept,
		// so that regenerating does not churn it.
		if old, err := casegen.ReadFile(path); err == nil && casegen.Compare(v.Namespace, old, f) == nil {
			fmt.Printf("%s: %d cases (%s), unchanged\n", path, len(f.Cases), f.Origin)
			continue
		}
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
