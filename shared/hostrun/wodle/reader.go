// Package wodle is what localrun can learn about the Wazuh process that
// runs it as a <wodle name="command">: which process reads its output (the
// wazuh-modulesd instance, found through /proc), how fast that reader
// forwards lines to analysisd (wazuh_modules.max_eps in the internal
// options), and from both how many events one run may print so that
// modulesd forwards them within the wodle's <interval>.
//
// modulesd starts a command as its direct child, in a new session, with
// the Wazuh home as working directory, reads the command's whole output
// into memory and forwards it line by line only after the command exited;
// it runs the next command of the same wodle only after that. What it has
// not forwarded when it stops is lost. docs/wodle.md describes what the
// host runner builds on this.
package wodle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ModulesdComm is the command name of Wazuh's module daemon in /proc.
const ModulesdComm = "wazuh-modulesd"

// The daemons that own the queue socket (queue/sockets/queue) modulesd
// forwards a wodle's lines to: analysisd on a manager, agentd on an agent
// (which sends them on to the manager).
const (
	AnalysisdComm = "wazuh-analysisd"
	AgentdComm    = "wazuh-agentd"
)

// States of the queue as the reader's command wodles see it
// (Reader.Queue). modulesd's command module connects to the queue socket
// once, when it starts, and never again (Wazuh 4.14.7, wm_command.c):
// after the queue's daemon restarts alone, everything the wodle prints is
// dropped until modulesd restarts too.
const (
	// QueueUnknown: the reader is not modulesd, or what would tell cannot
	// be read (no daemon binary in its home's bin, no readable var/run).
	QueueUnknown = ""
	// QueueOK: the queue's daemon runs and started before modulesd.
	QueueOK = "ok"
	// QueueDown: the queue's daemon does not run.
	QueueDown = "down"
	// QueueStale: the queue's daemon started after modulesd, so the
	// command module's connection is to one that is gone.
	QueueStale = "stale"
)

// wrappers are the shells a wodle command may be started through (a
// wrapper script that sets the environment): the reader is looked for
// above them. Anything else is taken as the reader itself.
var wrappers = map[string]bool{"sh": true, "bash": true, "dash": true}

// maxWrappers bounds the walk up through wrapper shells.
const maxWrappers = 8

// Proc reads the process table: files and links below /proc, by names
// relative to it ("self/stat", "812/cwd").
type Proc interface {
	ReadFile(name string) ([]byte, error)
	Readlink(name string) (string, error)
}

// SystemProc is the running system's /proc.
func SystemProc() Proc { return dirProc("/proc") }

type dirProc string

func (d dirProc) ReadFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), name))
}

func (d dirProc) Readlink(name string) (string, error) {
	return os.Readlink(filepath.Join(string(d), name))
}

// Stat is what the host runner uses of /proc/<pid>/stat.
type Stat struct {
	PID  int
	PPID int
	// Comm is the command name (at most 15 bytes, as the kernel keeps it).
	Comm string
	// State is the process state (field 3): 'Z' for a zombie.
	State byte
	// StartTime is when the process started, in clock ticks after boot
	// (field 22): with the pid and the boot it names one process for good,
	// since a pid is only reused by a process started later.
	StartTime uint64
}

// ParseStat parses the content of /proc/<pid>/stat. The command name is
// between the first '(' and the last ')': it may itself hold spaces and
// parentheses.
func ParseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 1 || end < open {
		return Stat{}, errors.New("stat: no (command name)")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil || pid <= 0 {
		return Stat{}, fmt.Errorf("stat: pid %q", bytes.TrimSpace(b[:open]))
	}
	// After the name: state (field 3), ppid (4), … starttime (22).
	rest := strings.Fields(string(b[end+1:]))
	if len(rest) < 20 {
		return Stat{}, fmt.Errorf("stat: %d fields after the command name, want at least 20", len(rest))
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil || ppid < 0 {
		return Stat{}, fmt.Errorf("stat: ppid %q", rest[1])
	}
	start, err := strconv.ParseUint(rest[19], 10, 64)
	if err != nil {
		return Stat{}, fmt.Errorf("stat: start time %q", rest[19])
	}
	return Stat{PID: pid, PPID: ppid, Comm: string(b[open+1 : end]), State: rest[0][0], StartTime: start}, nil
}

// Reader is the process that reads this process's output: the nearest
// ancestor that is not a wrapper shell.
type Reader struct {
	Stat
	// Wrappers counts the wrapper shells between the reader and us.
	Wrappers int
	// Command is the command line the reader started (the outermost
	// wrapper's, else ours): for modulesd, the wodle's <command>.
	Command string
	// Boot is the kernel's boot id: start times count from boot.
	Boot string
	// Dir is the reader's working directory ("" if it cannot be read);
	// for modulesd, the Wazuh home.
	Dir string
	// QueueDaemon is the daemon owning the queue modulesd forwards to
	// (AnalysisdComm or AgentdComm), "" if unknown.
	QueueDaemon string
	// Queue is whether what modulesd forwards reaches QueueDaemon (one of
	// the Queue constants).
	Queue string
}

// QueueBroken reports that modulesd's forwarding cannot reach the queue's
// daemon: what it forwards now is dropped.
func (r Reader) QueueBroken() bool { return r.Queue == QueueDown || r.Queue == QueueStale }

// Modulesd reports whether the reader is wazuh-modulesd.
func (r Reader) Modulesd() bool { return r.Comm == ModulesdComm }

// Identity names the reader instance and what it ran: equal identities
// mean the same process (pid, start time, boot) started the same command
// line. A pending position is tagged with it.
func (r Reader) Identity() string {
	sum := sha256.Sum256([]byte(r.Command))
	return fmt.Sprintf("%s pid=%d start=%d boot=%s command=%s", r.Comm, r.PID, r.StartTime, r.Boot, hex.EncodeToString(sum[:8]))
}

// FindReader walks up from this process through wrapper shells to the
// process that reads its output.
func FindReader(p Proc) (Reader, error) {
	self, err := readStat(p, "self")
	if err != nil {
		return Reader{}, err
	}
	started := self // the process the reader started: us, or the outermost wrapper
	r := Reader{}
	for {
		if started.PPID <= 0 {
			return Reader{}, fmt.Errorf("process %d (%s) has no parent", started.PID, started.Comm)
		}
		parent, err := readStat(p, strconv.Itoa(started.PPID))
		if err != nil {
			return Reader{}, err
		}
		if !wrappers[parent.Comm] || parent.PPID <= 0 || r.Wrappers == maxWrappers {
			r.Stat = parent
			break
		}
		started = parent
		r.Wrappers++
	}
	if b, err := p.ReadFile(strconv.Itoa(started.PID) + "/cmdline"); err == nil {
		r.Command = strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	}
	if b, err := p.ReadFile("sys/kernel/random/boot_id"); err == nil {
		r.Boot = strings.TrimSpace(string(b))
	}
	if dir, err := p.Readlink(strconv.Itoa(r.PID) + "/cwd"); err == nil {
		r.Dir = dir
	}
	if r.Modulesd() {
		r.QueueDaemon, r.Queue = queueState(p, r.Dir, r.StartTime)
	}
	return r, nil
}

// queueState finds the daemon owning the queue in the Wazuh home (the
// one whose binary is in bin), then that daemon through its pid files
// (var/run/<daemon>-<pid>.pid, left behind by a killed one), and compares
// its start time with modulesd's: both count clock ticks from the same
// boot. Only what it can read counts as evidence: a binary, directory, pid
// file or process it cannot see makes the state unknown, which keeps the
// rule that ignores the queue.
func queueState(p Proc, home string, modulesdStart uint64) (daemon, state string) {
	if home == "" {
		return "", QueueUnknown
	}
	for _, d := range []string{AnalysisdComm, AgentdComm} {
		if fi, err := os.Stat(filepath.Join(home, "bin", d)); err == nil && fi.Mode().IsRegular() {
			daemon = d
			break
		}
	}
	if daemon == "" {
		return "", QueueUnknown
	}
	run := filepath.Join(home, "var", "run")
	entries, err := os.ReadDir(run)
	if err != nil {
		return daemon, QueueUnknown
	}
	state = QueueDown
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, daemon+"-") || !strings.HasSuffix(name, ".pid") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(run, name))
		if err != nil {
			return daemon, QueueUnknown
		}
		pid := strings.TrimSpace(string(b))
		if n, err := strconv.Atoi(pid); err != nil || n <= 0 {
			continue
		}
		st, err := readStat(p, pid)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // gone
		case err != nil:
			return daemon, QueueUnknown
		case st.Comm != daemon || st.State == 'Z':
			continue // its pid reused, or exited
		case st.StartTime > modulesdStart:
			return daemon, QueueStale
		}
		state = QueueOK
	}
	return daemon, state
}

func readStat(p Proc, pid string) (Stat, error) {
	b, err := p.ReadFile(pid + "/stat")
	if err != nil {
		return Stat{}, fmt.Errorf("read /proc/%s/stat: %w", pid, err)
	}
	st, err := ParseStat(b)
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/%s/%w", pid, err)
	}
	return st, nil
}
