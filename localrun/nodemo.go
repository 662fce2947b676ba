//go:build nodemo

package main

import "github.com/wazuh-pull/wazuh-pull/shared/hostrun"

// demos is empty in a production build: the simulators are not linked in.
func demos() map[string]hostrun.Demo { return nil }
