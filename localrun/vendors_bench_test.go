package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/cortexxdr/cortexxdrtest"
	"github.com/wazuh-pull/wazuh-pull/functions/proofpoint/proofpointtest"
)

// BenchmarkProcessVendors measures the whole localrun process catching up
// a Proofpoint TAP or Cortex XDR backlog through stdout in wodle-sized runs
// (--max-bytes 32 MiB), as BenchmarkProcessRealistic does for 1Password:
// events per CPU-second of the localrun processes only (the simulator runs
// in the test process), their peak RSS, and every event delivered exactly
// once (by its dedup key).
//
//   - proofpoint: 100 000 SIEM events over 40 hours (two thirds messages,
//     a fifth of them to several recipients, a third clicks; about 1.6 KB
//     each), read in one-hour windows. A run re-reads only the part of its
//     stored position younger than the 30-minute overlap (older events
//     are settled), so in this backlog about 2 % of what is fetched is
//     recognised as already delivered (refetched-%, from the runs' logs).
//   - cortexxdr: 20 000 full alerts (the ~190 members of a v2 alert, about
//     5.7 KB each) inserted over 20 hours, pages of 100, signed with an
//     advanced key.
func BenchmarkProcessVendors(b *testing.B) {
	for _, v := range []vendorBench{proofpointBench(100_000), xdrBench(20_000)} {
		b.Run("vendor="+v.name, func(b *testing.B) {
			var events, runs, refetched int64
			var user, sys time.Duration
			var peak int64
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				env, want := v.setup(b, dir)
				logFile := filepath.Join(dir, "run.log")
				args := append([]string{v.name, "--source", v.stream, "--rate-limit", "-1", "--debug", "1", "--log-file", logFile}, v.args...)
				keys := make(map[string]struct{}, want)
				b.StartTimer()
				for run := 0; ; run++ {
					r := vendorRun(b, env, v.typeKey, args)
					runs++
					user += time.Duration(r.rusage.Utime.Nano())
					sys += time.Duration(r.rusage.Stime.Nano())
					peak = max(peak, lastPeakRSS(b, logFile))
					if r.exit != 0 {
						b.Fatalf("run %d: exit %d: %s", run, r.exit, r.stderr)
					}
					for _, k := range r.keys {
						if _, dup := keys[k]; dup {
							b.Fatalf("run %d: event %s delivered twice", run, k)
						}
						keys[k] = struct{}{}
					}
					events += int64(len(r.keys))
					if !logBacklog(b, logFile, 1) {
						break
					}
					if run > 100 {
						b.Fatalf("did not catch up after %d runs", run)
					}
				}
				if len(keys) != want {
					b.Fatalf("delivered %d distinct events, the simulator holds %d", len(keys), want)
				}
				refetched += loggedDuplicates(b, logFile)
			}
			cpu := user + sys
			b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "CPU-ns/event")
			b.ReportMetric(100*sys.Seconds()/cpu.Seconds(), "sys-%")
			b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
			b.ReportMetric(float64(runs)/float64(b.N), "runs")
			b.ReportMetric(100*float64(refetched)/float64(events+refetched), "refetched-%")
		})
	}
}

// vendorBench is one vendor's backlog: setup fills a simulator and returns
// localrun's environment and how many events it holds.
type vendorBench struct {
	name, stream string
	typeKey      string // the member naming an event's type
	args         []string
	setup        func(b *testing.B, dir string) (env []string, events int)
}

func proofpointBench(n int) vendorBench {
	return vendorBench{name: "proofpoint", stream: "siem", typeKey: "event_type", setup: func(b *testing.B, dir string) ([]string, int) {
		sim := proofpointtest.New(proofpointtest.Options{})
		b.Cleanup(sim.Close)
		cred := sim.AddTenant("bench", proofpointtest.Tenant{})
		const span = 40 * time.Hour
		to := time.Now().Add(-time.Hour).UTC().Truncate(time.Minute)
		perHour := float64(n) / span.Hours()
		// Two thirds messages, a fifth of which go to several recipients
		// (each recipient is an event): 0.55 messages make 0.66 events.
		got := sim.Generate("bench", proofpointtest.Traffic{From: to.Add(-span), To: to,
			MessagesPerHour: perHour * 0.55, ClicksPerHour: perHour / 3, MaxIndexLag: -1, Seed: 7})
		return []string{
			"PP_PRINCIPAL=" + cred.Principal,
			"PP_SECRET=" + cred.Secret,
			"PP_BASE_URL=" + sim.URL,
			"PP_STATE_FILE=" + filepath.Join(dir, "state.json"),
			"PP_SECRETS_FILE=" + filepath.Join(dir, "absent.secrets"),
			"PP_LOOKBACK_HOURS=42",
			"PATH=" + os.Getenv("PATH"),
		}, got
	}}
}

func xdrBench(n int) vendorBench {
	return vendorBench{name: "cortexxdr", stream: "alerts", typeKey: "type", setup: func(b *testing.B, dir string) ([]string, int) {
		const fqdn = "bench.xdr.us.paloaltonetworks.com"
		sim := cortexxdrtest.New(cortexxdrtest.Options{RateLimit: -1, ServeBeyondCap: false})
		b.Cleanup(sim.Close)
		sim.AddTenant(fqdn, cortexxdrtest.Tenant{})
		id, key := sim.AddKey(fqdn, cortexxdrtest.Key{})
		const span = 20 * time.Hour
		to := time.Now().Add(-time.Hour)
		specs := make([]cortexxdrtest.AlertSpec, n)
		for i := range specs {
			specs[i].Inserted = to.Add(-span + time.Duration(i)*span/time.Duration(n))
		}
		sim.AddAlerts(fqdn, specs)
		return []string{
			"XDR_FQDN=https://api-" + fqdn + "/",
			"XDR_API_KEY_ID=" + id,
			"XDR_API_KEY=" + key,
			"XDR_BASE_URL=" + sim.URL,
			"XDR_STATE_FILE=" + filepath.Join(dir, "state.json"),
			"XDR_SECRETS_FILE=" + filepath.Join(dir, "absent.secrets"),
			"XDR_LOOKBACK_HOURS=22",
			"PATH=" + os.Getenv("PATH"),
		}, n
	}}
}

// vendorRunResult is one localrun process whose stdout was drained.
type vendorRunResult struct {
	exit   int
	keys   []string // dedup keys of the events, in order
	stderr string
	rusage *syscall.Rusage
}

// vendorRun runs localrun with stdout on a pipe drained as
// BenchmarkProcessRealistic drains it (drainRun), then checks every line is whole and
// takes each event's dedup key and type (typeKey's last occurrence: the
// envelope writes it after the vendor's members) (the last member of its wazuh_pull object)
// without decoding the line. Error events fail the benchmark.
func vendorRun(b *testing.B, env []string, typeKey string, args []string) vendorRunResult {
	b.Helper()
	cmd := exec.Command(binary, args...)
	buf := drainRun(b, cmd, env)
	r := vendorRunResult{exit: cmd.ProcessState.ExitCode(), stderr: cmd.Stderr.(*bytes.Buffer).String(), rusage: cmd.ProcessState.SysUsage().(*syscall.Rusage)}
	const keyName = `"dedup_key":"`
	typeName := []byte(`"` + typeKey + `":"`)
	for len(buf) > 0 {
		end := bytes.IndexByte(buf, '\n')
		if end < 0 {
			b.Fatalf("partial line: %.200q", buf)
		}
		line := buf[:end]
		buf = buf[end+1:]
		t := bytes.LastIndex(line, typeName)
		if t < 0 {
			b.Fatalf("line without %s: %.300q", typeName, line)
		}
		typ, _, _ := bytes.Cut(line[t+len(typeName):], []byte(`"`))
		switch string(typ) {
		case "run_summary":
			continue
		case "error":
			b.Fatalf("error event: %s", line)
		}
		i := bytes.LastIndex(line, []byte(keyName))
		if i < 0 || !bytes.HasSuffix(line, []byte(`"}}}`)) {
			b.Fatalf("event line without a dedup key at its end: %.300q", line)
		}
		r.keys = append(r.keys, string(line[i+len(keyName):len(line)-len(`"}}}`)]))
	}
	return r
}

// loggedDuplicates sums the events the runs logged to logFile recognised
// as already delivered (a re-read overlap) and left out.
func loggedDuplicates(b *testing.B, logFile string) int64 {
	b.Helper()
	data, err := os.ReadFile(logFile)
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var rec struct {
			Msg        string `json:"msg"`
			Duplicates int64  `json:"duplicates"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "stream done" {
			n += rec.Duplicates
		}
	}
	return n
}
