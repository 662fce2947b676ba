// Command lambda-toy is the toy vendor's Lambda function, built by tests
// to run under the Lambda runtime emulator.
package main

import (
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/spec/spectest"
)

func main() { lambdarun.Main(spectest.Descriptor(), "test") }
