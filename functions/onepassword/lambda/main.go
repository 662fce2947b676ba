// Command bootstrap is the 1Password Events API collector as an AWS Lambda
// function (provided.al2023). EventBridge Scheduler invokes it once per
// stream and tenant with {"stream": "audit"|"signin"|"itemusage",
// "tenant": "<name>"}; configuration and the JSON summary it returns are
// described in README.md beside this file.
package main

import (
	"context"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
)

// version is set by the linker (make package).
var version = "dev"

func main() { lambdarun.Main(vendor()) }

func vendor() lambdarun.Vendor {
	return lambdarun.Vendor{
		Name:     onepassword.Vendor,
		Envelope: onepassword.Envelope(),
		Streams:  onepassword.StreamNames(),
		// 600/min is allowed in bursts, but only 30 000/h (500/min) sustained.
		RequestsPerMinute: min(onepassword.RequestsPerMinute, onepassword.RequestsPerHour/60),
		CredentialEnv:     []string{"OP_BEARER_TOKEN", "OP_TOKENS_FILE", "OP_SECRETS_FILE"},
		PublicFields:      []string{onepassword.FieldBaseURL},
		UserAgent:         "wazuh-pull/" + version + " (1Password Events API collector; AWS Lambda)",
		Setup: func(env *lambdarun.Env) (lambdarun.NewSourceFunc, error) {
			pageLimit := env.Int("OP_PAGE_LIMIT", onepassword.MaxPageLimit, 1, onepassword.MaxPageLimit)
			lookback := env.Hours("OP_LOOKBACK_HOURS", 0, onepassword.MaxLookback)
			if env.Lookup("OP_BASE_URL") != "" {
				env.Fail("OP_BASE_URL", "is per tenant in Lambda: put \"base_url\" in the tenant's secret (EU, CA and Enterprise accounts)")
			}
			return func(_ context.Context, p lambdarun.SourceParams) (pipeline.Source, error) {
				c, err := onepassword.New(onepassword.Config{PageLimit: pageLimit, Lookback: lookback, HTTP: p.HTTP, Logger: p.Logger}, p.Tenant, p.Credentials)
				if err != nil {
					return nil, err
				}
				def, _ := onepassword.StreamByName(p.Stream) // lambdarun checked the name
				return c.NewSource(def, onepassword.Legacy{}), nil
			}, nil
		},
	}
}
