//go:build !nodemo

package registry

import (
	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
	"github.com/wazuh-pull/wazuh-pull/shared/hostrun"
)

// Demos returns the vendors' simulators for `localrun demo`, by command. A
// production build (-tags nodemo) leaves them, and net/http/httptest, out.
func Demos() map[string]hostrun.Demo {
	return map[string]hostrun.Demo{
		"onepassword": {Start: func(events int) (*hostrun.DemoRun, error) {
			s := onepasswordtest.StartDemo(events)
			return &hostrun.DemoRun{Env: s.Env, About: "1Password Events API simulator at " + s.Server.URL, Between: s.Between, Stop: s.Server.Close}, nil
		}},
		"proofpoint": {Start: func(events int) (*hostrun.DemoRun, error) {
			s := proofpointtest.StartDemo(events)
			return &hostrun.DemoRun{Env: s.Env, About: "Proofpoint TAP simulator at " + s.URL, Between: s.Between, Stop: s.Close}, nil
		}},
		"cortexxdr": {Start: func(events int) (*hostrun.DemoRun, error) {
			s := cortexxdrtest.StartDemo(events)
			return &hostrun.DemoRun{Env: s.Env, About: "Cortex XDR API simulator at " + s.Server.URL, Between: s.Between, Stop: s.Server.Close}, nil
		}},
	}
}
