// Command localrun-toy is localrun with only the toy vendor registered,
// built by tests: it shows that a descriptor is all a vendor needs.
package main

import (
	"context"
	"os"

	"github.com/wazuh-pull/wazuh-pull/shared/hostrun"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
	"github.com/wazuh-pull/wazuh-pull/shared/spec/spectest"
)

func main() {
	app := &hostrun.App{Name: "localrun-toy", Version: "test", Vendors: []spec.Descriptor{spectest.Descriptor()}}
	os.Exit(app.Main(context.Background(), os.Args[1:], hostrun.IO{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}))
}
