package wazuhlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// proc is one running daemon. analysisd and modulesd run in the
// foreground (-f) as our children, so their exit status is known. remoted
// forks one handler per <remote> block even in the foreground and its
// first process exits: the handler, found through its pid file, is then
// the daemon, watched through /proc.
type proc struct {
	pid  int
	pgid int           // the process group of everything the daemon forked
	done chan struct{} // closed when the daemon exited
	err  error         // exit status of a child daemon, valid after done
}

// Start starts the daemons that are not running yet, in the canonical
// order (analysisd, remoted, modulesd), and waits until each is ready:
// analysisd has opened its logtest and queue sockets, remoted listens on
// Port, modulesd has opened its control socket.
func (l *Lab) Start(ctx context.Context, daemons ...Daemon) error {
	for _, d := range Daemons() {
		if !slices.Contains(daemons, d) || l.Running(d) {
			continue
		}
		if err := l.startOne(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// readySockets are the sockets each daemon creates once it can work; stale
// ones are removed before a start so that they cannot look like readiness.
var readySockets = map[Daemon][]string{
	Analysisd: {"queue/sockets/logtest", "queue/sockets/queue"},
	Modulesd:  {"queue/sockets/wmodules"},
}

func (l *Lab) startOne(ctx context.Context, d Daemon) error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("wazuhlab: lab is closed")
	}
	l.mu.Unlock()
	if d == Analysisd {
		if err := l.startWDB(); err != nil {
			return err
		}
	}
	for _, s := range readySockets[d] {
		os.Remove(l.Path(s))
	}
	pidFiles, _ := filepath.Glob(l.Path("var", "run", string(d)+"-*.pid"))
	for _, f := range pidFiles {
		os.Remove(f)
	}
	if d == Remoted {
		// remoted's handler outlives the process we start; as a subreaper
		// the test process inherits and reaps it.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("wazuhlab: become a child subreaper: %w", err)
		}
	}
	if d == Remoted {
		if err := l.waitPortFree(ctx); err != nil {
			return err
		}
	}
	out, err := os.OpenFile(l.Path("logs", "lab-"+string(d)+".out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	cmd := exec.Command(l.Path("bin", string(d)), "-f")
	cmd.Dir = l.Home
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), l.opts.Env...)
	// Its own process group: a terminal's ^C goes to the test, whose
	// cleanup stops the daemons in order, and remoted's forks can be
	// signalled together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("wazuhlab: start %s: %w", d, err)
	}
	child := &proc{pid: cmd.Process.Pid, pgid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		child.err = cmd.Wait()
		out.Close()
		close(child.done)
	}()
	p := child
	if d != Remoted {
		l.setProc(d, p)
	}

	wctx, cancel := context.WithTimeout(ctx, l.opts.StartTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if d == Remoted && p == child {
			if pid := l.pidFromFile(d); pid != 0 && pid != child.pid {
				p = watchPID(pid, child.pgid)
				l.setProc(d, p)
			}
		}
		if p != child || d != Remoted {
			if l.ready(d) {
				return nil
			}
		}
		select {
		case <-p.done:
			if p == child && d == Remoted && child.err == nil {
				continue // the launcher exited after forking; keep looking for the handler
			}
			return fmt.Errorf("wazuhlab: %s exited during start (%v); last lines of ossec.log:\n%s", d, p.err, l.tail(15))
		case <-wctx.Done():
			if p == child && d == Remoted {
				syscall.Kill(-child.pgid, syscall.SIGKILL)
			} else {
				l.Stop(context.Background(), d)
			}
			return fmt.Errorf("wazuhlab: %s not ready after %v: %w; last lines of ossec.log:\n%s", d, l.opts.StartTimeout, wctx.Err(), l.tail(15))
		case <-tick.C:
		}
	}
}

func (l *Lab) setProc(d Daemon, p *proc) {
	l.mu.Lock()
	l.procs[d] = p
	l.mu.Unlock()
}

// pidFromFile reads var/run/<daemon>-<pid>.pid.
func (l *Lab) pidFromFile(d Daemon) int {
	files, _ := filepath.Glob(l.Path("var", "run", string(d)+"-*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pidAlive(pid) {
			return pid
		}
	}
	return 0
}

// watchPID follows a daemon that is not our child until it exits. The
// lab makes the test process a child subreaper (see startOne), so an
// orphaned daemon is re-parented to us and reaped here; otherwise it would
// stay a zombie under an init that does not reap (as in some containers).
func watchPID(pid, pgid int) *proc {
	p := &proc{pid: pid, pgid: pgid, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			switch {
			case wpid == pid:
				return
			case err != nil && !pidAlive(pid): // not our child, and gone
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return p
}

// pidAlive reports whether a process exists and is not a zombie.
func pidAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name; Z is a zombie.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func (l *Lab) ready(d Daemon) bool {
	for _, s := range readySockets[d] {
		if fi, err := os.Stat(l.Path(s)); err != nil || fi.Mode()&os.ModeSocket == 0 {
			return false
		}
	}
	if d == Remoted {
		return portListening(l.Port)
	}
	return true
}

// tail returns the last n lines of ossec.log.
func (l *Lab) tail(n int) string {
	b, _ := os.ReadFile(l.OssecLogPath())
	return lastLines(string(b), n)
}

// Running reports whether the daemon runs.
func (l *Lab) Running(d Daemon) bool {
	l.mu.Lock()
	p := l.procs[d]
	l.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// PID returns the daemon's process id, or 0 when it does not run.
func (l *Lab) PID(d Daemon) int {
	if !l.Running(d) {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.procs[d].pid
}

// Signal sends sig to a running daemon without waiting (a durability test
// kills modulesd in the middle of forwarding with SIGKILL or SIGTERM).
func (l *Lab) Signal(d Daemon, sig syscall.Signal) error {
	l.mu.Lock()
	p := l.procs[d]
	l.mu.Unlock()
	if p == nil {
		return fmt.Errorf("wazuhlab: %s was not started", d)
	}
	if err := syscall.Kill(p.pid, sig); err != nil {
		return fmt.Errorf("wazuhlab: signal %s: %w", d, err)
	}
	return nil
}

// Wait waits until the daemon has exited and returns its exit status.
func (l *Lab) Wait(ctx context.Context, d Daemon) error {
	l.mu.Lock()
	p := l.procs[d]
	l.mu.Unlock()
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return fmt.Errorf("wazuhlab: waiting for %s to exit: %w", d, ctx.Err())
	}
}

// Stop stops the daemons in reverse start order: SIGTERM, then SIGKILL if
// one is still running after StopTimeout. It returns once they exited.
func (l *Lab) Stop(ctx context.Context, daemons ...Daemon) error {
	all := Daemons()
	var errs []error
	for i := len(all) - 1; i >= 0; i-- {
		d := all[i]
		if !slices.Contains(daemons, d) || !l.Running(d) {
			continue
		}
		if err := l.Signal(d, syscall.SIGTERM); err != nil && l.Running(d) {
			errs = append(errs, err)
		}
		wctx, cancel := context.WithTimeout(ctx, l.opts.StopTimeout)
		l.Wait(wctx, d)
		cancel()
		if l.Running(d) {
			l.Signal(d, syscall.SIGKILL)
			l.Wait(context.Background(), d)
			errs = append(errs, fmt.Errorf("wazuhlab: %s ignored SIGTERM for %v and was killed", d, l.opts.StopTimeout))
		}
		// What the daemon forked and left behind (remoted's per-connection
		// children) goes with it.
		l.mu.Lock()
		pgid := l.procs[d].pgid
		l.mu.Unlock()
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
	return errors.Join(errs...)
}

func exitedBySignal(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// Restart stops the daemon if it runs and starts it again.
func (l *Lab) Restart(ctx context.Context, d Daemon) error {
	if err := l.Stop(ctx, d); err != nil {
		return err
	}
	return l.startOne(ctx, d)
}

// portListening reports whether a TCP socket listens on 127.0.0.1:port,
// read from /proc/net/tcp so that checking does not open a connection
// (remoted forks a child per connection).
// waitPortFree waits until nothing listens on remoted's port. Right after
// Stop, the SIGKILLed children of the previous remoted may still hold its
// socket: they close it as they exit, which a loaded machine can delay. A
// port still taken after StopTimeout belongs to someone else.
func (l *Lab) waitPortFree(ctx context.Context) error {
	deadline := time.Now().Add(l.opts.StopTimeout)
	for portListening(l.Port) {
		if time.Now().After(deadline) {
			return fmt.Errorf("wazuhlab: remoted: 127.0.0.1:%d is still taken by another process after %v", l.Port, l.opts.StopTimeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wazuhlab: remoted: waiting for 127.0.0.1:%d to be free: %w", l.Port, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func portListening(port int) bool {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st ...; st 0A is LISTEN.
		if len(fields) > 3 && fields[1] == want && fields[3] == "0A" {
			return true
		}
	}
	return false
}
