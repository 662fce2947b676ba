package proofpointtest

import (
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// Clock is a simulated clock shared by the simulator and the code under
// test, so days of schedule run in seconds. It only moves when told.
type Clock = simtest.Clock

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return simtest.NewClock(t) }
