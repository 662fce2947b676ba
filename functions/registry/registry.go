// Package registry lists the vendors this project collects: localrun runs
// them, infra generates their AWS resources, the rules tests replay their
// events. Adding a vendor adds one line here (and one to demos.go).
package registry

import (
	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr"
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// Vendors returns every vendor's descriptor, in the order of --help, the
// demo and the template.
func Vendors() []spec.Descriptor {
	return []spec.Descriptor{
		onepassword.Descriptor(),
		proofpoint.Descriptor(),
		cortexxdr.Descriptor(),
	}
}
