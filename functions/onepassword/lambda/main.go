// Command bootstrap is the 1Password Events API collector as an AWS Lambda
// function (provided.al2023). EventBridge Scheduler invokes it once per
// stream and tenant with {"stream": "audit"|"signin"|"itemusage",
// "tenant": "<name>"}; configuration and the JSON summary it returns are
// described in README.md beside this file.
package main

import (
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
)

// version is set by the linker (make package).
var version = "dev"

func main() { lambdarun.Main(onepassword.Descriptor(), version) }
