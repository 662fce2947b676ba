package cortexxdrtest

import (
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/simtest"
)

// Clock is a simulated clock shared by the simulator and the client under
// test: the client's pacer sleeps by advancing it (Clock.Sleep), and a
// test moves it on between scheduled runs.
type Clock = simtest.Clock

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return simtest.NewClock(t) }
