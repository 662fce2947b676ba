// Package awstest lets tests drive the AWS SDK against real local parts
// (moto_server on loopback) and makes sure they can never reach real AWS.
//
// Without credentials the SDK's default chain reads ~/.aws, asks an SSO or
// web-identity provider and finally probes the EC2 instance metadata
// address, all of which are off-machine. Tests therefore set a dummy
// environment (SetTestEnv, or Main from TestMain) and build their clients
// from Config, which never consults the default chain and whose HTTP client
// refuses to dial anything but a loopback address.
//
// Typical use:
//
//	func TestMain(m *testing.M) { awstest.Main(m) }
//
//	func TestX(t *testing.T) {
//		moto := awstest.SharedMoto(t)
//		db := awstest.DynamoDB(t, moto.Endpoint)
//		table := awstest.UniqueName(t, "state")
//		…
//	}
package awstest

import (
	"os"
	"testing"
)

// Region is the region every test client uses.
const Region = "us-east-1"

// testEnv are the variables a test process sets so that anything that does
// fall back to the SDK's default chain finds dummy static credentials first
// and is told not to probe instance metadata.
var testEnv = [][2]string{
	{"AWS_ACCESS_KEY_ID", "test"},
	{"AWS_SECRET_ACCESS_KEY", "test"},
	{"AWS_REGION", Region},
	{"AWS_DEFAULT_REGION", Region},
	{"AWS_EC2_METADATA_DISABLED", "true"},
	// An empty file instead of ~/.aws: a developer's profile could name an
	// SSO session, a credential_process or a role to assume.
	{"AWS_CONFIG_FILE", os.DevNull},
	{"AWS_SHARED_CREDENTIALS_FILE", os.DevNull},
}

// clearedEnv are variables that could select other credentials or send
// requests somewhere other than the endpoint a test chose.
var clearedEnv = []string{
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	"AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN",
	"AWS_ROLE_ARN",
	"AWS_ROLE_SESSION_NAME",
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
	"AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_DYNAMODB",
	"AWS_ENDPOINT_URL_SECRETS_MANAGER",
	"AWS_ENDPOINT_URL_STS",
	"AWS_USE_FIPS_ENDPOINT",
	"AWS_USE_DUALSTACK_ENDPOINT",
	"AWS_CA_BUNDLE",
}

// SetTestEnv gives the test the dummy AWS environment and restores the
// previous one when the test ends. Like t.Setenv it cannot be used in
// parallel tests; use Main for a whole test binary instead.
func SetTestEnv(t testing.TB) {
	t.Helper()
	for _, kv := range testEnv {
		t.Setenv(kv[0], kv[1])
	}
	for _, k := range clearedEnv {
		// t.Setenv records the old value for restoration; the variable
		// must then be absent, not empty, because some SDK lookups treat
		// "set but empty" differently from "unset".
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// SetProcessEnv gives the whole process the dummy AWS environment. It is
// meant for TestMain, before any test runs.
func SetProcessEnv() error {
	for _, kv := range testEnv {
		if err := os.Setenv(kv[0], kv[1]); err != nil {
			return err
		}
	}
	for _, k := range clearedEnv {
		if err := os.Unsetenv(k); err != nil {
			return err
		}
	}
	return nil
}
