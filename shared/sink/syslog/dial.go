package syslog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"
)

// dial opens a connection, retrying with backoff. It gives up early on
// errors that another try cannot fix (certificate verification, a TLS alert)
// and when the next pause would end past ctx's deadline.
func (s *Sink) dial(ctx context.Context) (*conn, error) {
	var err error
	attempt := 1
	for ; ; attempt++ {
		var c *conn
		if c, err = s.dialOnce(ctx); err == nil {
			if attempt > 1 {
				s.log.Info("syslog connected after retrying", "attempt", attempt)
			}
			return c, nil
		}
		if permanent(err) || ctx.Err() != nil || attempt >= s.cfg.DialAttempts {
			break
		}
		wait := backoff(s.cfg.BackoffMin, s.cfg.BackoffMax, attempt)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			break
		}
		s.log.Warn("syslog connect failed; retrying", "attempt", attempt, "max_attempts", s.cfg.DialAttempts,
			"wait", wait.String(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		err = ctxErr(ctx, true, err)
	}
	return nil, fmt.Errorf("%w: connecting to %s failed after %d attempt(s): %w", ErrNotConfirmed, s.ep, attempt, err)
}

func (s *Sink) dialOnce(ctx context.Context) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	network := "tcp"
	if s.ep.Scheme == "udp" {
		network = "udp"
	}
	var d net.Dialer
	nc, err := d.DialContext(dctx, network, s.ep.Addr())
	if err != nil {
		return nil, err
	}
	if network == "udp" {
		return &conn{Conn: nc}, nil
	}
	c := &conn{Conn: nc, tcp: nc.(*net.TCPConn)}
	if s.tlsConf != nil {
		if s.cfg.InsecureSkipVerify {
			s.warnInsecure()
		}
		conf := s.tlsConf.Clone()
		get := conf.GetClientCertificate
		conf.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.certAsked = true
			return get(cri)
		}
		c.haveCert = len(s.cfg.ClientCertPEM) > 0
		tc := tls.Client(nc, conf)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, c.explain(fmt.Errorf("TLS handshake: %w", err))
		}
		c.tls, c.Conn = tc, tc
		st := tc.ConnectionState()
		s.log.Debug("syslog connected", "tls", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite),
			"client_cert_requested", c.certAsked)
	} else {
		s.log.Debug("syslog connected")
	}
	return c, nil
}

// permanent reports errors that retrying the connection cannot fix.
func permanent(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		op    *net.OpError
		rh    tls.RecordHeaderError
		uaErr x509.UnknownAuthorityError
		hnErr x509.HostnameError
		ciErr x509.CertificateInvalidError
	)
	// crypto/tls reports an alert from the peer as a net.OpError with Op
	// "remote error": the server refused us on purpose.
	alert := errors.As(err, &op) && op.Op == "remote error"
	return alert || errors.As(err, &verr) || errors.As(err, &rh) ||
		errors.As(err, &uaErr) || errors.As(err, &hnErr) || errors.As(err, &ciErr)
}

// backoff is the pause after the given failed attempt (1-based): min doubled
// per attempt, capped at max, with "equal jitter" (half fixed, half random)
// so that many senders restarted together do not retry in lockstep.
func backoff(min, max time.Duration, attempt int) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
