package procs

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// CoarseTimers sets the timer slack of every thread of the process to
// slack and returns how many threads took it. The calling thread always
// can (prctl); another thread's only with CAP_SYS_NICE (as root, which
// is how wazuh-modulesd runs a wodle), and without it the error says so.
// Threads started later inherit the slack of the thread that starts them.
func CoarseTimers(slack time.Duration) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ns := strconv.FormatInt(slack.Nanoseconds(), 10)
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(slack.Nanoseconds()), 0, 0, 0); err != nil {
		return 0, fmt.Errorf("timer slack: %w", err)
	}
	set := 1
	self := strconv.Itoa(unix.Gettid())
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return set, fmt.Errorf("timer slack: %w", err)
	}
	for _, t := range tasks {
		// A thread's own /proc entry (/proc/<tid>, not listed but there)
		// holds its slack; /proc/self/task/<tid> has none.
		if t.Name() == self {
			continue
		}
		err := writeSlack("/proc/"+t.Name()+"/timerslack_ns", ns)
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread has exited
		}
		if err != nil {
			// Without CAP_SYS_NICE every other thread refuses alike.
			return set, fmt.Errorf("timer slack of thread %s: %w", t.Name(), err)
		}
		set++
	}
	return set, nil
}

func writeSlack(path, ns string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(ns)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
