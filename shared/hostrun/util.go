package hostrun

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/wazuh-pull/wazuh-pull/shared/httpx"
	"github.com/wazuh-pull/wazuh-pull/shared/logx"
	"github.com/wazuh-pull/wazuh-pull/shared/redact"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/stdout"
)

// NewRunID names one run in every event it emits: time-ordered, unique.
func NewRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// newLogger sends diagnostics where the operator asked: the log file if
// one is set, else stderr only when --debug is above 0. By default nothing
// reaches stderr, because Wazuh ingests a wodle's stderr as events.
func newLogger(debug int, logFile string, stderr io.Writer, red *redact.Redactor) (*slog.Logger, func(), error) {
	switch {
	case logFile != "":
		f, err := openLogFile(logFile)
		if err != nil {
			return nil, nil, err
		}
		return logx.New(f, logx.Level(debug), red), func() { f.Close() }, nil
	case debug > 0:
		return logx.New(stderr, logx.Level(debug), red), func() {}, nil
	}
	return logx.Discard(), func() {}, nil
}

// openLogFile opens the diagnostics file for appending. It runs as root
// under Wazuh: a symbolic link planted where the log file goes would make
// it append to (and create) any file, so links are refused, as is anything
// but a regular file.
func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("open log file %s: it is a symbolic link; refusing to follow it", path)
		}
		return nil, fmt.Errorf("open log file: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("open log file %s: not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newStdout(f *os.File) *stdout.Sink {
	s, err := stdout.New(f)
	if err != nil {
		// Stat of stdout failing means there is nowhere to report to.
		fmt.Fprintln(os.Stderr, "localrun:", err)
		os.Exit(ExitFailed)
	}
	return s
}

// httpClient returns a factory of vendor clients: one per tenant, each
// with its own pacing, since vendors' limits apply per credential. The CA
// bundle is checked here, so the factory itself cannot fail.
func (o *options) httpClient(version string, red *redact.Redactor, log *slog.Logger) (func() *httpx.Client, error) {
	var ca []byte
	if o.caBundle != "" {
		b, err := os.ReadFile(o.caBundle)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		ca = b
	}
	cfg := func() httpx.Config {
		var lim httpx.Limiter
		if o.rateLimit > 0 {
			lim = httpx.Pacer(rate.NewLimiter(rate.Limit(o.rateLimit/60), o.d.Burst()))
		}
		return httpx.Config{
			AttemptTimeout: o.httpTimeout,
			MaxAttempts:    o.httpTries,
			CABundlePEM:    ca,
			Limiter:        lim,
			Redactor:       red,
			Logger:         log,
			UserAgent:      "wazuh-pull/" + version + " (" + o.d.Title + " collector)",
		}
	}
	if _, err := httpx.New(cfg()); err != nil {
		return nil, err
	}
	return func() *httpx.Client {
		c, _ := httpx.New(cfg())
		return c
	}, nil
}

// peakRSSKiB reads this process's peak resident set (VmHWM). It is logged
// at the end of a run so that memory use can be watched and measured; a
// parent's rusage cannot tell it, because Linux counts the parent's pages in
// a child's peak until the exec.
func peakRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}
