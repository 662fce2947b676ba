package main

import (
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
)

// TestPackage checks the deployment package as make package builds it.
func TestPackage(t *testing.T) {
	t.Parallel()
	lambdatest.CheckPackage(t, pkgPath, "cortexxdr.zip")
}
