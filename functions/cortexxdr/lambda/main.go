// Command bootstrap is the Cortex XDR collector as an AWS Lambda function
// (provided.al2023). EventBridge Scheduler invokes it once per stream and
// tenant with {"stream": "alerts"|"incidents", "tenant": "<name>"}; each
// tenant's credentials are the Secrets Manager JSON object
// {"fqdn","api_key_id","api_key","security_level"}.
package main

import (
	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
)

// version is set by the linker (make package).
var version = "dev"

func main() { lambdarun.Main(cortexxdr.Descriptor(), version) }
