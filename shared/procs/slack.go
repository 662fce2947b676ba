package procs

import "time"

// TimerSlack is how late the kernel may fire the process's timers
// (CoarseTimers). The Go runtime's monitor thread (sysmon) sleeps 20 µs
// at a time for a millisecond after every wake-up of the process, and
// again after each system call it sees last more than one of its polls
// (an fsync of a commit); on a virtual machine each of those sleeps costs
// 15-40 µs of CPU, 10-20 % of a run's (docs/testing.md, "Timer slack").
// With this slack the kernel folds them into a few milliseconds: runs took
// 15-25 % less CPU and no longer. Nothing in a collector counts time more
// finely: its timeouts are seconds, its pacing milliseconds.
const TimerSlack = 4 * time.Millisecond
