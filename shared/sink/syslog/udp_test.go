package syslog

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/shared/sink"
)

func TestUDP(t *testing.T) {
	if _, err := New(Config{URL: "udp://127.0.0.1:514"}); err == nil || !strings.Contains(err.Error(), "AllowUDP") {
		t.Fatalf("UDP without opt-in: %v", err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var logs logBuffer
	s := mustNew(t, Config{URL: "udp://" + pc.LocalAddr().String(), AllowUDP: true, Logger: newTextLogger(&logs)})
	if !strings.Contains(logs.String(), "UDP") {
		t.Fatalf("no warning about UDP: %q", logs.String())
	}
	ctx := testCtx(t, 10*time.Second)
	body := sink.DefaultMaxLine - s.Overhead()
	exact := `{"x":"` + strings.Repeat("ü", (body-8)/2) + strings.Repeat("y", (body-8)%2) + `"}`
	lines := []string{`{"a":"x\ny"}`, `{"b":"✓"}`, exact}
	if err := send(ctx, s, []byte(strings.Join(lines, "\n")+"\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 70000)
	for i, want := range lines {
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		// One line per datagram, no '\n'.
		if got := string(buf[:n]); got != "<134>"+want {
			t.Fatalf("datagram %d: %d bytes %.60q, want %d bytes", i, n, got, len(want)+5)
		}
	}
	if err := s.Write(ctx, []byte(exact[:6]+"z"+exact[6:]+"\n")); !errors.Is(err, sink.ErrLineTooLong) {
		t.Fatalf("one byte over the limit: %v", err)
	}
}

// Nothing listening: the ICMP port-unreachable that comes back is reported.
func TestUDPPortUnreachable(t *testing.T) {
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	addr := pc.LocalAddr().String()
	pc.Close()
	s := mustNew(t, Config{URL: "udp://" + addr, AllowUDP: true})
	ctx := testCtx(t, 10*time.Second)
	err := s.Write(ctx, page(0, 1, 100))
	if err == nil {
		time.Sleep(50 * time.Millisecond) // let the ICMP come back
		err = s.Confirm(ctx)
	}
	wantNotConfirmed(t, err)
	if !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want connection refused, got %v", err)
	}
}
