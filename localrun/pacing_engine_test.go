package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordtest"
	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog"
	"github.com/wazuh-pull/wazuh-pull/shared/sink/syslog/rsyslogtest"
	"github.com/wazuh-pull/wazuh-pull/shared/wazuhlab"
)

// Pacing against the real engine (docs/syslog-pacing.md).
//
// analysisd's queues are shrunk eightfold in this lab (shrunkQueue instead
// of 16 384), so that a backlog of a few thousand events overflows them
// when sent unpaced, as a backlog of tens of thousands overflows the
// default ones, while the paced catch-up at the default limit takes
// seconds, not minutes. Pacing keeps the arrival rate under what analysisd
// works off; the shrunk queues still hold eight seconds at the default
// limit, so that a writer stalled for a moment on a busy machine does not
// overflow them (at 512, two seconds' worth, a stress run did lose 21
// events from archives.json that way), and the default ones hold a minute.
const shrunkQueue = 2048

// engineQueues are the internal options that shrink analysisd's event
// queues: the input, the decoded events awaiting rules, and the writers of
// archives.json and alerts.json.
var engineQueues = map[string]string{
	"analysisd.decode_event_queue_size":  strconv.Itoa(shrunkQueue),
	"analysisd.decode_output_queue_size": strconv.Itoa(shrunkQueue),
	"analysisd.archives_queue_size":      strconv.Itoa(shrunkQueue),
	"analysisd.alerts_queue_size":        strconv.Itoa(shrunkQueue),
}

// pacingBacklog is the backlog: three times the shrunk queues, over the
// three 1Password streams (about 25 s at the default limit).
const pacingBacklog = 3 * shrunkQueue

// unpacedBacklog is what the measurement sends unpaced: ten times the
// shrunk queues, which a 2-core machine's analysisd does not work off as
// fast as a sender delivers it (three times did not overflow them).
const unpacedBacklog = 10 * shrunkQueue

// ourRules are the shipped decoders and rules, as a manager installs them.
func ourRules(t testing.TB) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range append(rules.RuleFileNames(), rules.DecoderFileNames()...) {
		b, err := rules.Files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// engineWatch follows archives.json, alerts.json and ossec.log from the
// moment it is made.
type engineWatch struct {
	archives, alerts, ossec *wazuhlab.Tail
	archived, alerted       map[string]bool
	warnings                []string
	summaries               []map[string]any // run_summary events archived, oldest first
}

func watchEngine(t testing.TB, lab *wazuhlab.Lab) *engineWatch {
	t.Helper()
	w := &engineWatch{archived: map[string]bool{}, alerted: map[string]bool{}}
	var err error
	if w.archives, err = lab.TailArchives(); err == nil {
		if w.alerts, err = lab.TailAlerts(); err == nil {
			w.ossec, err = lab.TailOssecLog()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// uuidsIn adds to set every value of a "uuid" member in records (the
// event's own, decoded or escaped in full_log, and those of nested
// objects, which never collide with event ids).
func uuidsIn(lines [][]byte, set map[string]bool) {
	for _, l := range lines {
		for _, key := range [][]byte{[]byte(`"uuid":"`), []byte(`\"uuid\":\"`)} {
			rest := l
			for {
				i := bytes.Index(rest, key)
				if i < 0 {
					break
				}
				rest = rest[i+len(key):]
				j := bytes.IndexAny(rest, `"\`)
				if j < 0 {
					break
				}
				set[string(rest[:j])] = true
			}
		}
	}
}

// poll reads what the engine wrote since the last call.
func (w *engineWatch) poll(t testing.TB) {
	t.Helper()
	for _, f := range []struct {
		tail *wazuhlab.Tail
		set  map[string]bool
	}{{w.archives, w.archived}, {w.alerts, w.alerted}} {
		lines, err := f.tail.Lines()
		if err != nil {
			t.Fatal(err)
		}
		uuidsIn(lines, f.set)
		if f.tail != w.archives {
			continue
		}
		for _, l := range lines {
			if !bytes.Contains(l, []byte(`run_summary`)) {
				continue
			}
			r, err := wazuhlab.ParseRecord(l)
			if err != nil {
				t.Fatal(err)
			}
			var ev struct {
				Op map[string]any `json:"op"`
			}
			if err := json.Unmarshal([]byte(jsonPart(r.FullLog)), &ev); err != nil {
				t.Fatalf("archived run_summary %q: %v", r.FullLog, err)
			}
			if ev.Op["event_type"] == "run_summary" {
				w.summaries = append(w.summaries, ev.Op)
			}
		}
	}
	lines, err := w.ossec.Lines()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		// analysisd: "Input queue is full.", "Archive writer queue is
		// full.", "Queues are full and no EPS credits, dropping events.";
		// remoted: "Message queue is full".
		if s := string(l); strings.Contains(s, "queue is full") || strings.Contains(s, "Queue is full") || strings.Contains(s, "dropping events") {
			w.warnings = append(w.warnings, s)
		}
	}
}

// jsonPart is the JSON object of a full_log (after <PRI>, if the relay
// kept it).
func jsonPart(s string) string {
	if i := strings.IndexByte(s, '{'); i >= 0 {
		return s[i:]
	}
	return s
}

func countIn(set map[string]bool, ids []string) int {
	n := 0
	for _, id := range ids {
		if set[id] {
			n++
		}
	}
	return n
}

// settle polls until every id is archived and alerted (every 1Password
// event alerts), or until nothing new arrived for quiet: analysisd then
// has nothing left in its queues for these events.
func (w *engineWatch) settle(ctx context.Context, t testing.TB, ids []string, quiet time.Duration) {
	t.Helper()
	last, lastChange := -1, time.Now()
	for {
		w.poll(t)
		n := countIn(w.archived, ids) + countIn(w.alerted, ids)
		if n == 2*len(ids) {
			return
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		if time.Since(lastChange) > quiet {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("engine still writing when the test's time ran out: %d of %d archived", countIn(w.archived, ids), len(ids))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pacedBacklog generates n events over the three streams, newer than
// what is there.
func pacedBacklog(h *harness, n int, end time.Time) []string {
	var ids []string
	streams := []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages}
	for i, s := range streams {
		before := len(h.sim.EventIDs("acme", s))
		per := n / len(streams)
		if i == 0 {
			per += n % len(streams)
		}
		h.sim.Generate("acme", s, per, end.Add(-time.Duration(per)*time.Second), time.Second)
		ids = append(ids, h.sim.EventIDs("acme", s)[before:]...)
	}
	return ids
}

// catchUp runs localrun until a run leaves no backlog, reading each
// run's run_summary where it went: through the relay into the engine's
// archives. It returns the summaries.
func catchUp(ctx context.Context, t *testing.T, h *harness, w *engineWatch, args ...string) []map[string]any {
	t.Helper()
	var sums []map[string]any
	for run := 0; run < 20; run++ {
		res := h.run(args...)
		if res.exit != 0 || len(res.lines) != 0 {
			t.Fatalf("run %d: exit %d, %d lines on stdout (all should go to syslog): %s", run, res.exit, len(res.lines), res.stderr)
		}
		sum := w.nextSummary(ctx, t)
		sums = append(sums, sum)
		if sum["audit_backlog"] == false && sum["signin_backlog"] == false && sum["itemusage_backlog"] == false {
			return sums
		}
	}
	t.Fatalf("no catch-up after 20 runs: %v", sums)
	return nil
}

// nextSummary waits for the next run_summary in archives.json; the engine
// may still be working through the run's events, so the wait ends only
// when it stops writing for half a minute.
func (w *engineWatch) nextSummary(ctx context.Context, t *testing.T) map[string]any {
	t.Helper()
	seen, lastChange := len(w.archived), time.Now()
	for len(w.summaries) == 0 {
		w.poll(t)
		if len(w.archived) != seen {
			seen, lastChange = len(w.archived), time.Now()
		}
		if time.Since(lastChange) > 30*time.Second {
			t.Fatalf("no run_summary in archives.json, and the engine stopped writing (%d events archived)", len(w.archived))
		}
		select {
		case <-ctx.Done():
			t.Fatal("no run_summary in archives.json before the test's time ran out")
		case <-time.After(200 * time.Millisecond):
		}
	}
	sum := w.summaries[0]
	w.summaries = w.summaries[1:]
	return sum
}

// TestPacedBacklogReachesTheEngineWhole catches up a backlog through the
// shipped mutual-TLS relay into a real Wazuh 4.14.7 engine at localrun's
// default --syslog-eps: every event is archived and alerted, and ossec.log
// has no queue-full warning. Then it sends a larger backlog unpaced
// (--syslog-eps 0) and logs what the engine kept: that half is a
// measurement (docs/syslog-pacing.md), since whether a burst overflows
// depends on how busy the machine is.
func TestPacedBacklogReachesTheEngineWhole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lab, err := wazuhlab.Start(ctx, wazuhlab.Options{RuleData: ourRules(t), InternalOptions: engineQueues}, wazuhlab.Analysisd, wazuhlab.Remoted)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close() })
	relay := rsyslogtest.Start(t, rsyslogtest.Options{RemotedPort: lab.Port})
	h := newHarness(t, onepasswordtest.Options{})
	pki := relay.PKI
	args := []string{"--sink", "tls://" + relay.Addr, "--rate-limit", "-1",
		"--syslog-ca", writePEM(t, h.dir, "ca.pem", pki.CAPEM),
		"--syslog-cert", writePEM(t, h.dir, "client.pem", pki.ClientCertPEM),
		"--syslog-key", writePEM(t, h.dir, "client.key", pki.ClientKeyPEM)}

	// Paced, at the default limit.
	ids := pacedBacklog(h, pacingBacklog, time.Now().Add(-time.Hour))
	w := watchEngine(t, lab)
	start := time.Now()
	sums := catchUp(ctx, t, h, w, args...)
	sent := time.Since(start)
	// At the limit the engine keeps up: once the sender is done, only the
	// events of the last second or so are still on their way.
	w.settle(ctx, t, ids, 30*time.Second)
	if a, l := countIn(w.archived, ids), countIn(w.alerted, ids); a != len(ids) || l != len(ids) || len(w.warnings) > 0 {
		t.Fatalf("paced at %d events/s: %d of %d events archived, %d alerted; ossec.log warnings: %q",
			syslog.DefaultEventsPerSecond, a, len(ids), l, w.warnings)
	}
	if floor := time.Duration(float64(len(ids)-syslog.DefaultEventsPerSecond) / syslog.DefaultEventsPerSecond * float64(time.Second)); sent < floor {
		t.Fatalf("%d events sent in %v: faster than %d a second allows (at least %v)", len(ids), sent, syslog.DefaultEventsPerSecond, floor)
	}
	// The run summaries, delivered through the engine too, say that
	// pacing held every stream back. (How long depends on how fast the
	// rest of the work goes on this machine: the floor above is what
	// proves the rate.)
	var pacedMs float64
	for _, s := range []string{"audit", "signin", "itemusage"} {
		var stream float64
		for _, sum := range sums {
			if v, ok := sum[s+"_paced_ms"].(float64); ok {
				stream += v
			}
		}
		if stream <= 0 {
			t.Errorf("the run summaries report no time held back by pacing for %s over a %v catch-up: %v", s, sent, sums)
		}
		pacedMs += stream
	}
	t.Logf("paced at %d events/s: %d events sent in %v (%d runs, %.0f ms held back), all archived and alerted, no queue warning",
		syslog.DefaultEventsPerSecond, len(ids), sent.Round(time.Millisecond), len(sums), pacedMs)

	// Unpaced: the measurement. One run takes the whole backlog (it is far
	// below --max-bytes), so no run_summary is needed to know the sender is
	// done: an overflowing engine may well drop that line too.
	ids = pacedBacklog(h, unpacedBacklog, time.Now())
	w = watchEngine(t, lab)
	start = time.Now()
	if res := h.run(append(args, "--syslog-eps", "0")...); res.exit != 0 || len(res.lines) != 0 {
		t.Fatalf("unpaced run: exit %d, %d lines on stdout (all should go to syslog): %s", res.exit, len(res.lines), res.stderr)
	}
	sent = time.Since(start)
	w.settle(ctx, t, ids, 10*time.Second)
	t.Logf("unpaced: %d events sent in %v (%.0f/s); %d archived, %d alerted (%d lost from archives.json); ossec.log warnings: %q",
		len(ids), sent.Round(time.Millisecond), float64(len(ids))/sent.Seconds(), countIn(w.archived, ids), countIn(w.alerted, ids),
		len(ids)-countIn(w.archived, ids), w.warnings)
}

// engineBenchCases are the sends BenchmarkEngineAbsorbs measures:
// WAZUH_PULL_ENGINE_BENCH lists senders/rate/events triples (rate 0:
// unpaced), comma-separated; the default is one quick case, so that
// `make bench-once` keeps the benchmark working. docs/syslog-pacing.md
// lists the cases behind its figures.
func engineBenchCases(b *testing.B) [][3]int {
	spec := os.Getenv("WAZUH_PULL_ENGINE_BENCH")
	if spec == "" {
		spec = "1/2000/10000"
	}
	var out [][3]int
	for _, c := range strings.Split(spec, ",") {
		var v [3]int
		parts := strings.Split(strings.TrimSpace(c), "/")
		ok := len(parts) == 3
		for i := 0; ok && i < 3; i++ {
			n, err := strconv.Atoi(parts[i])
			v[i], ok = n, err == nil && n >= 0
		}
		if !ok || v[0] < 1 || v[2] < v[0] {
			b.Fatalf("WAZUH_PULL_ENGINE_BENCH: %q is not senders/rate/events (e.g. 4/2000/60000)", c)
		}
		out = append(out, v)
	}
	return out
}

// collectorLines returns n real 1Password event lines: what localrun
// prints for a simulated backlog over the three streams.
func collectorLines(b *testing.B, n int) (lines [][]byte, ids []string) {
	b.Helper()
	h := newHarness(b, onepasswordtest.Options{})
	for _, s := range []string{onepasswordtest.StreamAuditEvents, onepasswordtest.StreamSignInAttempts, onepasswordtest.StreamItemUsages} {
		h.sim.Generate("acme", s, n/3+1, time.Now().Add(-40*time.Hour), time.Second)
	}
	for run := 0; len(lines) < n; run++ {
		res := h.run("--rate-limit", "-1")
		if res.exit != 0 || run > 100 {
			b.Fatalf("run %d: exit %d: %s", run, res.exit, res.stderr)
		}
		for _, l := range res.lines {
			if id := uuidOf(l); id != "" && len(lines) < n {
				lines = append(lines, l)
				ids = append(ids, id)
			}
		}
	}
	return lines, ids
}

// BenchmarkEngineAbsorbs sends real 1Password lines to a real Wazuh 4.14.7
// engine (analysisd with its default queues and our rules, remoted) from
// several syslog sinks at once, each paced at its share of the rate, in
// confirmed pages of 1 000 lines as localrun sends them, and reports what
// the engine kept: the share of events in archives.json and alerts.json,
// the rate they were sent at, the rate analysisd worked them off, and any
// queue-full warning in ossec.log (logged). Daemons restart between
// measurements, so each starts with empty queues. See
// docs/syslog-pacing.md for the method and the figures.
func BenchmarkEngineAbsorbs(b *testing.B) {
	cases := engineBenchCases(b)
	most := 0
	for _, c := range cases {
		most = max(most, c[2])
	}
	lines, ids := collectorLines(b, most)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	lab, err := wazuhlab.Start(ctx, wazuhlab.Options{RuleData: ourRules(b)}, wazuhlab.Analysisd, wazuhlab.Remoted)
	if err != nil {
		b.Fatal(err)
	}
	defer lab.Close()
	for _, c := range cases {
		senders, rate, n := c[0], c[1], c[2]
		b.Run(fmt.Sprintf("senders=%d/rate=%d/events=%d", senders, rate, n), func(b *testing.B) {
			for b.Loop() {
				if err := lab.Stop(ctx, wazuhlab.Remoted, wazuhlab.Analysisd); err != nil {
					b.Fatal(err)
				}
				if err := lab.Start(ctx, wazuhlab.Analysisd, wazuhlab.Remoted); err != nil {
					b.Fatal(err)
				}
				load, _ := os.ReadFile("/proc/loadavg")
				w := watchEngine(b, lab)
				start := time.Now()
				sendConcurrently(ctx, b, lab.Port, lines[:n], senders, float64(rate))
				sent := time.Since(start)
				w.settle(ctx, b, ids[:n], 8*time.Second)
				kept, alerted := countIn(w.archived, ids[:n]), countIn(w.alerted, ids[:n])
				worked := time.Since(start)
				b.ReportMetric(100*float64(kept)/float64(n), "%archived")
				b.ReportMetric(100*float64(alerted)/float64(n), "%alerted")
				b.ReportMetric(float64(n)/sent.Seconds(), "sent/s")
				b.ReportMetric(float64(kept)/worked.Seconds(), "archived/s")
				b.ReportMetric(float64(len(w.warnings)), "warnings")
				b.Logf("%d senders at %d/s: %d events sent in %v, %d archived, %d alerted, done after %v; load %s; ossec.log: %q",
					senders, rate, n, sent.Round(time.Millisecond), kept, alerted, worked.Round(time.Millisecond), strings.TrimSpace(string(load)), w.warnings)
			}
		})
	}
}

// sendConcurrently sends lines from senders syslog sinks, each paced at
// its share of rate (0: unpaced), in confirmed pages of 1 000 lines.
func sendConcurrently(ctx context.Context, b *testing.B, port int, lines [][]byte, senders int, rate float64) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	per := (len(lines) + senders - 1) / senders
	for s := 0; s < senders; s++ {
		part := lines[min(s*per, len(lines)):min((s+1)*per, len(lines))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			sk, err := syslog.New(syslog.Config{URL: "tcp://127.0.0.1:" + strconv.Itoa(port), EventsPerSecond: rate / float64(senders)})
			if err != nil {
				errs <- err
				return
			}
			defer sk.Close()
			for i := 0; i < len(part); i += 1000 {
				if err := sk.Write(ctx, bytes.Join(part[i:min(i+1000, len(part))], nil)); err != nil {
					errs <- err
					return
				}
				if err := sk.Confirm(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}
