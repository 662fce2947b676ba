package syslog

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/rules/relay"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
)

// BenchmarkTLSToRsyslog sends ~800-byte events over TLS to a private rsyslog
// running the shipped relay config, confirming every 10 000 events (each
// confirmation ends a TLS connection, as in production), once per relay
// queue mode. An op is one event (ns/op and MB/s are per event). It
// reports:
//
//	events/s          confirmed by rsyslog, i.e. bounded by the relay's queue
//	cpu-ns/event      the sender's own CPU: the benchmark goroutine is locked
//	                  to its thread, which does the framing, TLS and syscalls
//	                  (the kernel's loopback delivery is charged to it too)
//	proc-cpu-ns/event the whole test process, which also runs the stand-in
//	                  for wazuh-remoted that counts the forwarded lines
//
// Run with -benchtime 200000x; the disk-sync mode is slow by design.
func BenchmarkTLSToRsyslog(b *testing.B) {
	for _, q := range []relay.Queue{relay.QueueDirect, relay.QueueDisk, relay.QueueMemory, relay.QueueDiskSync} {
		b.Run("queue="+string(q), func(b *testing.B) { benchTLS(b, q) })
	}
}

func benchTLS(b *testing.B, q relay.Queue) {
	const (
		eventSize    = 800
		pageEvents   = 1000
		confirmEvery = 10_000
	)
	r := rsyslogtest.Start(b, rsyslogtest.Options{CountOnly: true, Queue: q})
	// fsync per message is slow: give a confirmation time to finish.
	s, err := New(Config{URL: "tls://" + r.Addr, CAPEM: r.PKI.CAPEM, ClientCertPEM: r.PKI.ClientCertPEM, ClientKeyPEM: r.PKI.ClientKeyPEM, ConfirmTimeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	pg := page(0, pageEvents, eventSize)
	// An op is one event: exactly b.N are sent (the last page is cut to
	// what is left), so ns/op and MB/s are per event at any -benchtime.
	var last []byte
	if rem := b.N % pageEvents; rem > 0 {
		last = page(0, rem, eventSize)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var thr0, thr1, proc0, proc1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_THREAD, &thr0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &proc0)
	b.SetBytes(int64(len(pg) / pageEvents))
	b.ResetTimer()
	start := time.Now()
	sent, unconfirmed := 0, 0
	for sent < b.N {
		p, n := pg, pageEvents
		if b.N-sent < pageEvents {
			p, n = last, b.N-sent
		}
		if err := s.Write(ctx, p); err != nil {
			b.Fatal(err)
		}
		sent += n
		unconfirmed += n
		if unconfirmed >= confirmEvery || sent >= b.N {
			if err := s.Confirm(ctx); err != nil {
				b.Fatal(err)
			}
			unconfirmed = 0
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_THREAD, &thr1)
	syscall.Getrusage(syscall.RUSAGE_SELF, &proc1)
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(cpuNanos(thr0, thr1))/float64(sent), "cpu-ns/event")
	b.ReportMetric(float64(cpuNanos(proc0, proc1))/float64(sent), "proc-cpu-ns/event")
	if err := r.Downstream.WaitCount(sent, 2*time.Minute); err != nil {
		b.Fatalf("the relay forwarded too little: %v", err)
	}
}

func cpuNanos(before, after syscall.Rusage) int64 {
	return after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
}

// BenchmarkPacingIdle measures what a limit that does not bind costs: the
// same ~800-byte events over plain TCP to the remoted stand-in, in pages
// of 1 000 confirmed every 10 000, without a limit and with the highest
// one. Unpaced, the sender can pass that limit on a fast machine (2.8
// million events/s here), so both offer the events at 80 % of it: the
// bucket always has the tokens, and a hold is a pacing bug, not the
// machine's speed. An op is one event; compare cpu-ns/event between the
// two (events/s is at most the offered rate).
func BenchmarkPacingIdle(b *testing.B) {
	for _, limit := range []float64{0, MaxEventsPerSecond} {
		b.Run(fmt.Sprintf("limit=%g", limit), func(b *testing.B) {
			const pageEvents, confirmEvery = 1000, 10_000
			d := rsyslogtest.StartDownstream(b, false)
			s, err := New(Config{URL: "tcp://" + d.Addr(), EventsPerSecond: limit})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			pg := page(0, pageEvents, 800)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var thr0, thr1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_THREAD, &thr0)
			b.SetBytes(int64(len(pg) / pageEvents))
			b.ResetTimer()
			start := time.Now()
			const offered = 0.8 * MaxEventsPerSecond
			var held time.Duration
			for sent := 0; sent < b.N; sent += pageEvents {
				if ahead := time.Until(start.Add(time.Duration(float64(sent) / offered * float64(time.Second)))); ahead > 0 {
					time.Sleep(ahead)
				}
				p := pg
				if b.N-sent < pageEvents {
					p = page(0, b.N-sent, 800)
				}
				w, err := s.PacedWrite(ctx, p, time.Time{})
				if err != nil {
					b.Fatal(err)
				}
				held += w
				if (sent+pageEvents)%confirmEvery == 0 || sent+pageEvents >= b.N {
					if err := s.Confirm(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			syscall.Getrusage(syscall.RUSAGE_THREAD, &thr1)
			if held != 0 {
				b.Fatalf("a limit of %g held the sender back %v", limit, held)
			}
			cpu := time.Duration(syscall.TimevalToNsec(thr1.Utime) + syscall.TimevalToNsec(thr1.Stime) - syscall.TimevalToNsec(thr0.Utime) - syscall.TimevalToNsec(thr0.Stime))
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
		})
	}
}
