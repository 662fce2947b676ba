//go:build !nodemo

package main

import (
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/shared/hostrun"
)

// demos are the vendors' simulators for `localrun demo`. A production
// build (make build: -tags nodemo) leaves them and net/http/httptest out.
func demos() map[string]hostrun.Demo {
	return map[string]hostrun.Demo{
		"onepassword": {Start: func(events int) (*hostrun.DemoRun, error) {
			s := onepasswordtest.StartDemo(events)
			return &hostrun.DemoRun{Env: s.Env, About: "1Password Events API simulator at " + s.Server.URL, Between: s.Between, Stop: s.Server.Close}, nil
		}},
	}
}
