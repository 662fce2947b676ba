// Package infra holds the AWS SAM template of the AWS deployment
// (template.yaml, described in README.md) and the tests that keep it valid:
// cfn-lint runs on it offline, and Go tests read it and check what must
// hold (least-privilege IAM, one schedule per tenant and stream with the
// exact payload the functions accept, retries and dead-letter queues, the
// state table's settings, alarms) against the functions' own constants.
//
// The package has no code of its own; infra/cmd holds the packaging tool.
package infra
