package main

import (
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
)

// buildPackage builds the package as make package does, into dir.
func buildPackage(t testing.TB, dir string) string {
	return lambdatest.BuildPackage(t, pkgPath, dir, "onepassword.zip")
}

// TestPackage checks the deployment package as make package builds it.
func TestPackage(t *testing.T) {
	t.Parallel()
	lambdatest.CheckPackage(t, pkgPath, "onepassword.zip")
}
