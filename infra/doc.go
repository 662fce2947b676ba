// Package infra holds the AWS SAM template of the AWS deployment
// (template.yaml, described in README.md) and the tests that keep it
// valid. The template is generated from the vendor descriptors by
// infra/gen for every vendor of functions/registry:
//
//	go generate ./infra
//
// The tests check that the checked-in template is the generator's output,
// run cfn-lint on it offline, read it and check what must hold
// (least-privilege IAM, one schedule per tenant and stream with the exact
// payload the functions accept, retries and dead-letter queues, the state
// table's settings, the Rules, alarms) against the functions' own
// constants, and run the 1Password function under the Lambda runtime
// emulator to show that the alarms fire from its EMF lines and to measure
// the figures of the cost model (infra/cost).
//
// infra/cmd holds the generator, the packaging tool and the cost model's
// command.
package infra

//go:generate go run ./cmd/gentemplate -o template.yaml
