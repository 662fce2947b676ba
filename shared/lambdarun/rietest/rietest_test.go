package rietest

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
)

// Every test process gets the dummy AWS environment, whether or not it
// talks to AWS.
func TestMain(m *testing.M) { awstest.Main(m) }

func TestMissingEmulatorNamesInstallCommand(t *testing.T) {
	notFound := func(string) (string, error) { return "", errors.New("not found") }
	_, err := find(notFound, "", []string{t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make deps") ||
		!strings.Contains(err.Error(), "go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@"+Version) {
		t.Fatalf("err = %v, want it to name make deps and the go install command", err)
	}
}

func TestFindLooksInGOPATH(t *testing.T) {
	gp := t.TempDir()
	bin := filepath.Join(gp, "bin", "aws-lambda-rie")
	os.MkdirAll(filepath.Dir(bin), 0o755)
	os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755)
	notFound := func(string) (string, error) { return "", errors.New("not found") }
	if got, err := find(notFound, "", []string{gp}); err != nil || got != bin {
		t.Fatalf("find = %q, %v", got, err)
	}
}

func TestOperation(t *testing.T) {
	for target, want := range map[string]string{
		"DynamoDB_20120810.UpdateItem":  "DynamoDB.UpdateItem",
		"secretsmanager.GetSecretValue": "SecretsManager.GetSecretValue",
		"":                              "POST /",
	} {
		r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/", nil)
		if target != "" {
			r.Header.Set("X-Amz-Target", target)
		}
		if got := Operation(r); got != want {
			t.Errorf("Operation(%q) = %q, want %q", target, got, want)
		}
	}
}
