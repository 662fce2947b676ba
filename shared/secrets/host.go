package secrets

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/wazuh-pull/wazuh-pull/shared/redact"
)

// Host resolves credentials on a host the way the seed wodles did, first
// match wins:
//
//  1. systemd credentials: $CREDENTIALS_DIRECTORY/<variable in lower case>
//     (e.g. op_bearer_token), memory-backed and never in the environment;
//  2. the secrets file: KEY=VALUE lines, refused if group- or
//     world-writable, skipped if it does not exist, and reported with a
//     warning (once per Host) if anyone on the host may read it;
//  3. the environment (visible to other processes of the same user).
type Host struct {
	// Vars maps credential fields to variable names, e.g.
	// "bearer_token": "OP_BEARER_TOKEN".
	Vars map[string]string
	// Public names fields that are not secret (a base URL, a key id): they
	// are not registered with the redactor, so messages can show them.
	Public []string
	// SecretsFile is the KEY=VALUE file ("" for none).
	SecretsFile string
	// Getenv reads the environment (default os.Getenv).
	Getenv   func(string) string
	Redactor *redact.Redactor
	Logger   *slog.Logger

	warned atomic.Bool // the world-readable warning was logged
}

// Get resolves every field. Files are read on every call, so a rotated
// secret is picked up by the next run without a restart.
func (h *Host) Get(ctx context.Context) (Credentials, error) {
	getenv := h.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	file, mode, err := readSecretsFile(h.SecretsFile)
	if err != nil {
		return nil, err
	}
	if mode&0o004 != 0 && !h.warned.Swap(true) {
		// Not refused: the seed wodles accepted such files and a refusal
		// would stop collection on upgrade. Every local user can read the
		// token, though, so say so loudly.
		log.Warn("the secrets file is readable by every user on this host; run chmod 640 on it (owner root, group wazuh) or 600",
			"path", h.SecretsFile, "mode", mode.String())
	}
	credDir := getenv("CREDENTIALS_DIRECTORY")
	out := Credentials{}
	for field, name := range h.Vars {
		v, from, err := h.lookup(credDir, name, file, getenv)
		if err != nil {
			return nil, err
		}
		if v == "" {
			continue
		}
		if !slices.Contains(h.Public, field) {
			h.Redactor.Add(v)
		}
		out[field] = v
		log.Debug("credential resolved", "name", name, "from", from)
	}
	return out, nil
}

func (h *Host) lookup(credDir, name string, file map[string]string, getenv func(string) string) (string, string, error) {
	if credDir != "" {
		p := filepath.Join(credDir, strings.ToLower(name))
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			if v := strings.TrimSpace(string(b)); v != "" {
				return v, "systemd credentials", nil
			}
		case !errors.Is(err, fs.ErrNotExist):
			return "", "", fmt.Errorf("secrets: read systemd credential %s: %w", p, err)
		}
	}
	if v := file[name]; v != "" {
		return v, "secrets file", nil
	}
	return getenv(name), "environment", nil
}

// Invalidate does nothing: every Get reads the sources again.
func (h *Host) Invalidate() {}

// ReadSecretsFile parses a KEY=VALUE secrets file. A path that does not
// exist yields no values (the file is optional); a file that others may
// write is refused, since anyone who can change it can redirect the token.
func ReadSecretsFile(path string) (map[string]string, error) {
	m, _, err := readSecretsFile(path)
	return m, err
}

// readSecretsFile is ReadSecretsFile that also returns the file's
// permission bits (0 when there is no file).
func readSecretsFile(path string) (map[string]string, fs.FileMode, error) {
	if path == "" {
		return nil, 0, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("secrets: open secrets file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("secrets: stat secrets file: %w", err)
	}
	mode := fi.Mode().Perm()
	if mode&0o022 != 0 {
		return nil, mode, fmt.Errorf("secrets: refusing %s: it is writable by group or others (mode %v); run chmod 640 on it", path, mode)
	}
	b := make([]byte, 0, fi.Size())
	buf := bytes.NewBuffer(b)
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, mode, fmt.Errorf("secrets: read secrets file: %w", err)
	}
	m, err := ParseSecrets(buf.Bytes())
	return m, mode, err
}

// ParseSecrets parses KEY=VALUE lines: '#' starts a comment line, blank
// lines are skipped, an optional "export " prefix is allowed, and a value
// wrapped in matching single or double quotes is unwrapped. Nothing is
// expanded or evaluated. Errors name the line, never its value.
func ParseSecrets(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("secrets file line %d: expected KEY=VALUE", n)
		}
		key = strings.TrimSpace(key)
		if key == "" || strings.ContainsAny(key, " \t\"'") {
			return nil, fmt.Errorf("secrets file line %d: invalid key", n)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		out[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("secrets file: %w", err)
	}
	return out, nil
}
