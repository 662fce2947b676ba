package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/functions/onepassword/onepasswordbench"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdatest"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/lambdazip"
	"github.com/wazuh-pull/wazuh-pull/shared/lambdarun/rietest"
)

// BenchmarkColdStart measures the init phase of the bootstrap under the
// emulator: from the process start to its first request for work, as the
// emulator reports it ("INIT REPORT", the figure Lambda bills as Init
// Duration), and the whole first invocation as the caller sees it. The
// invocation carries an invalid payload so that it needs no network:
// the init phase must not use any either. Target: init < 100 ms, checked
// by make bench against .ci/bench-targets.txt.
func BenchmarkColdStart(b *testing.B) {
	bootstrap := rietest.Build(b, pkgPath, b.TempDir())
	env := []string{
		// A valid configuration whose endpoints are closed loopback
		// ports: nothing may be contacted, and nothing is.
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:9",
		lambdarun.EnvStateTable + "=wazuh-pull-state",
		lambdarun.EnvSyslogURL + "=tls://127.0.0.1:9",
		lambdarun.EnvSyslogTLSSecret + "=wazuh-pull/syslog-tls",
		lambdarun.EnvLogLevel + "=warn",
	}
	var initTotal, firstTotal time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rietest.Start(b, rietest.Options{Bootstrap: bootstrap, Env: env})
		res, err := r.Invoke(awstest.Context(b, 30*time.Second), []byte(`{}`))
		if err != nil {
			b.Fatal(err)
		}
		if res.ErrorType != "InputError" {
			b.Fatalf("invocation: %s\n%s", res, r.Log())
		}
		inits := r.WaitInitDurations(awstest.Context(b, 30*time.Second), 1)
		if len(inits) != 1 {
			b.Fatalf("%d init reports:\n%s", len(inits), r.Log())
		}
		initTotal += inits[0]
		firstTotal += res.Elapsed
		r.Stop()
	}
	b.StopTimer()
	initMs := float64(initTotal.Microseconds()) / 1000 / float64(b.N)
	b.ReportMetric(initMs, "init-ms")
	b.ReportMetric(float64(firstTotal.Microseconds())/1000/float64(b.N), "first-invoke-ms")
}

// BenchmarkPackageSize builds the arm64 package as make package does and
// reports its size (ns/op is the time to build and zip it). Target: zip
// < 15 MB (.ci/bench-targets.txt).
func BenchmarkPackageSize(b *testing.B) {
	var info lambdazip.Info
	for i := 0; i < b.N; i++ {
		z := buildPackage(b, b.TempDir())
		var err error
		if info, err = lambdazip.Check(z, lambdazip.Want{Machine: 183 /* EM_AARCH64 */}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(info.ZipBytes), "zip-bytes")
	b.ReportMetric(float64(info.BootstrapBytes), "bootstrap-bytes")
}

// BenchmarkDynamoDBCallsPerPage counts the DynamoDB requests of warm
// invocations catching up 20 pages each (counted on the wire, retries
// included). Per invocation the lease costs one conditional write to take
// and one to release, and the record one read; in steady state each page
// costs exactly one conditional write, its commit, plus one write per
// dedup chunk its keys needed (reported apart: chunk-writes/page). Target:
// at most one conditional write per page in steady state.
func BenchmarkDynamoDBCallsPerPage(b *testing.B) {
	w := newBenchWorld(b)
	bootstrap := rietest.Build(b, pkgPath, b.TempDir())
	r := rietest.Start(b, rietest.Options{Bootstrap: bootstrap, Timeout: 60, Env: w.env("OP_PAGE_LIMIT=100")})
	// Warm up: the first run creates the record and caches the secrets.
	w.generate(100, time.Second)
	if _, err := r.Invoke(awstest.Context(b, time.Minute), payload("audit")); err != nil {
		b.Fatal(err)
	}
	var pages, updates, reads, others, chunks int64
	var invocations int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w.generate(2000, time.Second)
		w.ddb.Reset()
		chunksBefore := w.dedupChunks("audit")
		b.StartTimer()
		res, err := r.Invoke(awstest.Context(b, time.Minute), payload("audit"))
		if err != nil {
			b.Fatal(err)
		}
		var out lambdarun.Output
		if err := res.Decode(&out); err != nil || !out.Success || out.Pages != 20 {
			b.Fatalf("invocation: %+v, %v", out, err)
		}
		invocations++
		pages += out.Pages
		b.StopTimer()
		chunks += int64(w.dedupChunks("audit") - chunksBefore)
		b.StartTimer()
		for op, n := range w.ddb.Counts() {
			switch op {
			case "DynamoDB.UpdateItem":
				updates += int64(n)
			case "DynamoDB.GetItem":
				reads += int64(n)
			default:
				others += int64(n)
			}
		}
	}
	b.StopTimer()
	commits := float64(updates-2*invocations-chunks) / float64(pages)
	b.ReportMetric(float64(updates+reads+others)/float64(pages), "ddb-calls/page")
	b.ReportMetric(commits, "cond-writes/page")
	b.ReportMetric(float64(chunks)/float64(pages), "chunk-writes/page")
	b.ReportMetric(float64(updates+reads+others-pages)/float64(invocations), "ddb-calls/invocation-overhead")
	if commits > 1 || others != 0 {
		b.Fatalf("%.2f conditional writes per page in steady state (want at most 1), %d other calls", commits, others)
	}
}

// newBenchWorld is newWorld for a benchmark: the same loopback parts.
func newBenchWorld(b *testing.B) *world {
	b.Helper()
	if os.Getenv("AWS_EC2_METADATA_DISABLED") != "true" {
		b.Fatal("the dummy AWS environment is not set (TestMain must call awstest.Main)")
	}
	return newWorld(b)
}

// BenchmarkInvocationRealistic runs the function under the emulator, warm,
// over the realistic events of the whole-process benchmarks
// (onepasswordbench: about 785 bytes each, served chunked by opbenchd),
// one invocation per stream of 10 000 events, pages of 1 000, to moto
// (DynamoDB, Secrets Manager) and the mutual-TLS relay on loopback. It
// reports the function process's CPU per event (user + system, from
// /proc, the init phase and the warm-up left out) and, per page, the
// duration the emulator reports (Lambda's billed duration is that, rounded
// up to the millisecond): on loopback it is mostly moto's time to write
// items of about a thousand dedup keys, which DynamoDB does in
// milliseconds, so the cost model (infra/cost) takes the CPU figure and
// assumed network latencies instead.
func BenchmarkInvocationRealistic(b *testing.B) {
	w := newBenchWorld(b)
	const perStream, token = 10_000, "opbench-token"
	srv := onepasswordbench.Start(b, onepasswordbench.Build(b, b.TempDir()), onepasswordbench.Options{Events: 3 * perStream, Token: token})
	span := time.Duration(srv.Gen.Len()) * srv.Gen.Step
	bootstrap := rietest.Build(b, pkgPath, b.TempDir())
	r := rietest.Start(b, rietest.Options{Bootstrap: bootstrap, Timeout: 600, Env: w.env(lambdarun.EnvLogLevel+"=warn", fmt.Sprintf("OP_LOOKBACK_HOURS=%d", int(span.Hours())+2))})
	invoke := func(tenant, stream string) lambdarun.Output {
		res, err := r.Invoke(awstest.Context(b, 10*time.Minute), []byte(fmt.Sprintf(`{"stream":%q,"tenant":%q}`, stream, tenant)))
		if err != nil {
			b.Fatal(err)
		}
		var out lambdarun.Output
		if err := res.Decode(&out); err != nil || !out.Success {
			b.Fatalf("%s: %+v, %v\n%s", stream, out, err, lambdatest.Tail(r.Log(), 4000))
		}
		return out
	}
	var events, pages int64
	var cpu time.Duration
	var billed float64
	for i := 0; i < b.N; i++ {
		// Each iteration is a tenant of its own, whose streams start from
		// the lookback.
		b.StopTimer()
		tenant := fmt.Sprintf("bench%d", i)
		w.PutSecret(w.SecretID(onepassword.Vendor, tenant), map[string]string{onepassword.FieldBearerToken: token, onepassword.FieldBaseURL: srv.URL})
		if i == 0 {
			// An invalid payload: the init phase, and nothing else.
			if _, err := r.Invoke(awstest.Context(b, time.Minute), []byte(`{}`)); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for _, stream := range []string{"audit", "signin", "itemusage"} {
			cpu0 := functionCPU(b, r)
			out := invoke(tenant, stream)
			cpu += functionCPU(b, r) - cpu0
			if out.Events != perStream || out.Backlog {
				b.Fatalf("%s: %+v", stream, out)
			}
			events += out.Events
			pages += out.Pages
		}
	}
	b.StopTimer()
	// The emulator prints an invocation's REPORT line after answering.
	want := 1 + 3*b.N // the warm-up's and the streams'
	for deadline := time.Now().Add(30 * time.Second); len(billedDurations(r.Log())) < want; {
		if time.Now().After(deadline) {
			b.Fatalf("%d REPORT lines for %d invocations:\n%s", len(billedDurations(r.Log())), want, lambdatest.Tail(r.Log(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, d := range billedDurations(r.Log())[1:] {
		billed += d
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(events), "CPU-µs/event")
	b.ReportMetric(float64(events)/cpu.Seconds(), "events/CPU-s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(pages), "CPU-ms/page")
	b.ReportMetric(billed/float64(pages), "emulator-ms/page")
}

// functionCPU is the user + system CPU time of the emulator's function
// process (its child running bootstrap), from /proc in clock ticks.
func functionCPU(b *testing.B, r *rietest.RIE) time.Duration {
	b.Helper()
	pid := r.FunctionPID()
	if pid == 0 {
		b.Fatal("no function process under the emulator")
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

var reportDuration = regexp.MustCompile(`REPORT RequestId: \S+[^\n]*?\tDuration: ([0-9.]+) ms`)

// billedDurations are the durations of the emulator's REPORT lines, in ms.
func billedDurations(log string) []float64 {
	var out []float64
	for _, m := range reportDuration.FindAllStringSubmatch(log, -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		out = append(out, v)
	}
	return out
}
