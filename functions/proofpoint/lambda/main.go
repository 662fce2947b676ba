// Command bootstrap is the Proofpoint TAP collector as an AWS Lambda
// function (provided.al2023). EventBridge Scheduler invokes it once per
// stream and tenant with {"stream": "siem"|"people", "tenant": "<name>"};
// the configuration is that of every wazuh-pull function (see
// shared/lambdarun) plus the Proofpoint settings in
// functions/proofpoint/README.md.
package main

import (
	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
)

// version is set by the linker (make package).
var version = "dev"

func main() { lambdarun.Main(proofpoint.Descriptor(), version) }
