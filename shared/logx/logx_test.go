package logx

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
)

func TestEverythingIsRedacted(t *testing.T) {
	r := redact.New()
	r.Add("CANARY-123456")
	var buf bytes.Buffer
	log := New(&buf, slog.LevelDebug, r).With("token", "CANARY-123456")
	log.Info("msg CANARY-123456", "err", errors.New("bad CANARY-123456"), "s", "CANARY-123456", slog.Group("g", "k", "CANARY-123456"), "any", []string{"CANARY-123456"})
	if strings.Contains(buf.String(), "CANARY") || strings.Count(buf.String(), redact.Mask) != 6 {
		t.Fatalf("log: %s", buf.String())
	}
}

func TestLevels(t *testing.T) {
	if Level(0) != slog.LevelWarn || Level(1) != slog.LevelInfo || Level(3) != slog.LevelDebug {
		t.Fatal("levels")
	}
}
