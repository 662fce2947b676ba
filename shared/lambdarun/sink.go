package lambdarun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/pipeline"
	"github.com/wazuh-pull/wazuh-pull/shared/sink"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog"
)

// Fields of the syslog TLS secret (WAZUH_PULL_SYSLOG_TLS_SECRET).
const (
	TLSFieldCA         = "ca_pem"
	TLSFieldClientCert = "client_cert_pem"
	TLSFieldClientKey  = "client_key_pem"
	TLSFieldServerName = "server_name"
)

// openSink builds this invocation's syslog sink. The TLS material is read
// from its secret through the same cache as credentials, so a rotated
// client certificate is picked up within the secret TTL. syslog.New does
// not connect; the first page does.
func (f *Function) openSink(ctx context.Context, log *slog.Logger) (sink.Sink, error) {
	cfg := syslog.Config{URL: f.cfg.SyslogURL, EventsPerSecond: f.cfg.SyslogEventsPerSecond, Logger: log}
	if f.tlsSecret != nil {
		creds, err := f.tlsSecret.Get(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the syslog TLS secret: %w", err)
		}
		var unknown []string
		for k := range creds {
			switch k {
			case TLSFieldCA, TLSFieldClientCert, TLSFieldClientKey, TLSFieldServerName:
			default:
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, &ConfigError{Err: fmt.Errorf("%s: the secret %s has unknown fields %s; allowed are %s, %s, %s and %s", EnvSyslogTLSSecret,
				f.tlsSecret.SecretID(), strings.Join(unknown, ", "), TLSFieldCA, TLSFieldClientCert, TLSFieldClientKey, TLSFieldServerName)}
		}
		if f.cfg.RequireClientCert {
			var missing []string
			for _, k := range []string{TLSFieldClientCert, TLSFieldClientKey} {
				if strings.TrimSpace(creds[k]) == "" {
					missing = append(missing, k)
				}
			}
			if len(missing) > 0 {
				// Checked before connecting: a relay that accepts mutual
				// TLS only would refuse the handshake, and the cause would
				// read as a network failure.
				return nil, &ConfigError{Err: fmt.Errorf("%s: the secret %s lacks %s, and %s=required: the relay accepts mutual TLS only; add the sender's client certificate and key",
					EnvSyslogTLSSecret, f.tlsSecret.SecretID(), strings.Join(missing, " and "), EnvSyslogClientCert)}
			}
		}
		cfg.CAPEM = []byte(creds[TLSFieldCA])
		cfg.ClientCertPEM = []byte(creds[TLSFieldClientCert])
		cfg.ClientKeyPEM = []byte(creds[TLSFieldClientKey])
		cfg.ServerName = creds[TLSFieldServerName]
	}
	s, err := syslog.New(cfg)
	if err != nil {
		// The syslog package never puts key bytes in an error; the
		// redactor masks them anyway should that ever change.
		return nil, f.red.Error(fmt.Errorf("syslog sink: %w", err))
	}
	return s, nil
}

// guardedSink lets the SIGTERM handler close the sink while the handler
// goroutine may be inside Write or Confirm: the syslog sink itself is not
// safe for concurrent use. A one-slot channel instead of a mutex lets the
// closer give up after a bounded wait.
type guardedSink struct {
	s      sink.Sink
	sem    chan struct{}
	closed bool
}

func newGuardedSink(s sink.Sink) *guardedSink {
	return &guardedSink{s: s, sem: make(chan struct{}, 1)}
}

var errSinkClosed = errors.New("lambdarun: sink closed at shutdown")

func (g *guardedSink) lock(ctx context.Context) error {
	select {
	case g.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case g.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *guardedSink) unlock() { <-g.sem }

func (g *guardedSink) Overhead() int { return g.s.Overhead() }

func (g *guardedSink) Write(ctx context.Context, b []byte) error {
	if err := g.lock(ctx); err != nil {
		return err
	}
	defer g.unlock()
	if g.closed {
		return errSinkClosed
	}
	return g.s.Write(ctx, b)
}

func (g *guardedSink) Confirm(ctx context.Context) error {
	if err := g.lock(ctx); err != nil {
		return err
	}
	defer g.unlock()
	if g.closed {
		return errSinkClosed
	}
	return g.s.Confirm(ctx)
}

// PaceDelay and PacedWrite pass the syslog sink's pacing through to the
// pipeline (pipeline.Pacer).
func (g *guardedSink) PaceDelay(lines int) time.Duration {
	if p, ok := g.s.(pipeline.Pacer); ok {
		return p.PaceDelay(lines)
	}
	return 0
}

func (g *guardedSink) PacedWrite(ctx context.Context, b []byte, by time.Time) (time.Duration, error) {
	p, ok := g.s.(pipeline.Pacer)
	if !ok {
		return 0, g.Write(ctx, b)
	}
	if err := g.lock(ctx); err != nil {
		return 0, err
	}
	defer g.unlock()
	if g.closed {
		return 0, errSinkClosed
	}
	return p.PacedWrite(ctx, b, by)
}

// Close waits for a Write or Confirm in progress, then closes.
func (g *guardedSink) Close() error {
	g.sem <- struct{}{}
	defer g.unlock()
	return g.closeLocked()
}

// closeWithin closes unless a Write or Confirm is still running after d,
// and reports whether it closed.
func (g *guardedSink) closeWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case g.sem <- struct{}{}:
	case <-t.C:
		return false
	}
	defer g.unlock()
	g.closeLocked()
	return true
}

func (g *guardedSink) closeLocked() error {
	if g.closed {
		return nil
	}
	g.closed = true
	return g.s.Close()
}
