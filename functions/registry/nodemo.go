//go:build nodemo

package registry

import "github.com/wazuh-pull/wazuh-pull/shared/hostrun"

// Demos is empty in a production build: the simulators are not linked in.
func Demos() map[string]hostrun.Demo { return nil }
