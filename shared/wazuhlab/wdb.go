package wazuhlab

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
)

// fakeWDB stands in for wazuh-db, which a lab does not run. analysisd asks
// it for the MITRE ATT&CK matrix at start and, when the socket is absent,
// waits 1+2+3+4+5 seconds before giving up; answering at once with an empty
// matrix lets analysisd start in about a second. Other queries (agent
// labels, which syslog events from agent 000 do not need) get an error.
//
// The protocol is wazuh-db's: a 4-byte little-endian length, then the query
// text; the answer is framed the same way and starts with "ok" or "err".
type fakeWDB struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn map[net.Conn]struct{}
	// Queries counts what was asked, by first word (for tests).
	queries map[string]int
}

// maxWDBQuery bounds a query; analysisd's are a few hundred bytes.
const maxWDBQuery = 1 << 20

func (l *Lab) startWDB() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wdb != nil {
		return nil
	}
	path := l.Path("queue", "db", "wdb")
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("wazuhlab: wazuh-db stand-in: %w", err)
	}
	// analysisd has dropped to user wazuh when it connects.
	if err := os.Chown(path, 0, l.gid); err != nil {
		ln.Close()
		return fmt.Errorf("wazuhlab: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return fmt.Errorf("wazuhlab: %w", err)
	}
	w := &fakeWDB{ln: ln, conn: map[net.Conn]struct{}{}, queries: map[string]int{}}
	w.wg.Add(1)
	go w.serve()
	l.wdb = w
	return nil
}

func (w *fakeWDB) serve() {
	defer w.wg.Done()
	for {
		c, err := w.ln.Accept()
		if err != nil {
			return
		}
		w.mu.Lock()
		w.conn[c] = struct{}{}
		w.mu.Unlock()
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.handle(c)
			w.mu.Lock()
			delete(w.conn, c)
			w.mu.Unlock()
			c.Close()
		}()
	}
}

func (w *fakeWDB) handle(c net.Conn) {
	for {
		q, err := readFrame(c, maxWDBQuery)
		if err != nil {
			return
		}
		word, _, _ := strings.Cut(string(q), " ")
		w.mu.Lock()
		w.queries[word]++
		w.mu.Unlock()
		if err := writeFrame(c, []byte(wdbAnswer(string(q)))); err != nil {
			return
		}
	}
}

// wdbAnswer is the stand-in's reply: an empty result for MITRE queries,
// an error otherwise.
func wdbAnswer(query string) string {
	if strings.HasPrefix(query, "mitre ") {
		return "ok []"
	}
	return "err wazuh-db is not part of this lab"
}

// Queries returns how many queries of the given first word were asked.
func (w *fakeWDB) Queries(word string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.queries[word]
}

func (w *fakeWDB) Close() {
	w.ln.Close()
	w.mu.Lock()
	for c := range w.conn {
		c.Close()
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// readFrame reads one length-prefixed message (the framing of wazuh-db and
// of the logtest socket).
func readFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if int64(n) > int64(max) {
		return nil, fmt.Errorf("wazuhlab: message of %d bytes exceeds %d", n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

func writeFrame(w io.Writer, b []byte) error {
	buf := make([]byte, 4+len(b))
	binary.LittleEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err := w.Write(buf)
	return err
}
