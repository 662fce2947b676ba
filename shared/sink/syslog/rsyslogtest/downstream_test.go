package rsyslogtest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// The stand-in must lose what remoted loses, or tests against it would pass
// where production drops lines.
func TestDownstreamBehavesLikeRemoted(t *testing.T) {
	for _, keep := range []bool{true, false} {
		d := StartDownstream(t, keep)
		send := func(s string) {
			c, err := net.Dial("tcp", d.Addr())
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte(s))
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Fatalf("want EOF after our half-close, got %d, %v", n, err)
			}
			c.Close()
		}
		send("a\nb\nunterminated")
		send("c\n" + strings.Repeat("x", maxRemotedLine) + "\nlost\n")
		if err := d.WaitCount(3, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if d.Count() != 3 || d.Dropped() != 2 {
			t.Fatalf("keep=%v: count %d dropped %d, want 3 and 2", keep, d.Count(), d.Dropped())
		}
		if keep && strings.Join(d.Lines(), ",") != "a,b,c" {
			t.Fatalf("lines %q", d.Lines())
		}
		if err := d.WaitCount(4, 50*time.Millisecond); err == nil {
			t.Fatal("WaitCount must time out")
		}
	}
}

func TestDownstreamPauseResume(t *testing.T) {
	d := StartDownstream(t, true)
	d.Pause()
	if c, err := net.Dial("tcp", d.Addr()); err == nil {
		c.Close()
		t.Fatal("paused downstream accepted a connection")
	}
	if err := d.Resume(); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", d.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("x\n"))
	c.Close()
	if _, err := d.WaitLines(1, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// Without rsyslogd the harness must fail and say how to install it.
func TestFindRsyslogdMissing(t *testing.T) {
	saved := sbinDirs
	t.Cleanup(func() { sbinDirs = saved })
	sbinDirs = []string{t.TempDir()}
	t.Setenv("PATH", t.TempDir())
	_, err := FindRsyslogd()
	if err == nil || !strings.Contains(err.Error(), "apt-get install rsyslog rsyslog-gnutls rsyslog-openssl") ||
		!strings.Contains(err.Error(), "make deps") {
		t.Fatalf("error = %v", err)
	}
}
