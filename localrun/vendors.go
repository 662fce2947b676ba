package main

import (
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/shared/spec"
)

// vendors are the collectors this binary runs, in the order of --help and
// the demo. Adding a vendor adds one line here.
func vendors() []spec.Descriptor {
	return []spec.Descriptor{
		onepassword.Descriptor(),
	}
}
