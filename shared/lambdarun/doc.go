// Package lambdarun runs a vendor collector as an AWS Lambda function:
// the wiring that is the same for every vendor, so that a function's main
// package only names its vendor's descriptor (shared/spec):
//
//	func main() { lambdarun.Main(onepassword.Descriptor(), version) }
//
// # Invocation
//
// EventBridge Scheduler invokes the function once per stream and tenant
// with the schedule's target input
//
//	{"stream": "audit", "tenant": "acme"}
//
// (both required, nothing else allowed; the stream must be one of the
// vendor's, the tenant 1–64 letters, digits, '-' or '_'). The invocation
// takes the stream's lease in DynamoDB, fetches pages, sends each page
// to syslog, waits for the peer to confirm receipt and commits the cursor,
// page after page, until the vendor has nothing more or the time left
// falls below the deadline margin. It then writes a run_summary event,
// one EMF metrics line and one log line, and returns the summary (Output):
//
//	{"vendor":"1password","tenant":"acme","stream":"audit","run_id":"<request id>",
//	 "ran":true,"success":true,"stop":"caught_up","locked":false,
//	 "events":2500,"pages":3,"duplicates":0,"reduced":0,"backlog":false,
//	 "cursor_advanced":true,"errors":[],"newest_event":"2026-03-02T08:00:00Z",
//	 "lag_seconds":61.2,"duration_ms":703,"paced_ms":0,"syslog_events_per_second":5.49,
//	 "summary_delivered":true}
//
// A stream that failed makes the invocation fail (errorType "RunError",
// the summary in the message), so Lambda's Errors metric, the
// asynchronous retries and the dead-letter destination see it. A stream
// whose lease another invocation holds is not a failure: the summary says
// "locked": true and the invocation succeeds. An invalid payload fails
// with errorType "InputError", an invalid configuration with
// "ConfigError"; both messages name exactly what is wrong.
//
// # Configuration
//
// Environment variables, read and validated once per execution
// environment (the init phase, which does no network I/O):
//
//	WAZUH_PULL_STATE_TABLE        required. DynamoDB table (name or ARN) of cursors and
//	                              leases, in the layout of dynamostore.CreateTable.
//	WAZUH_PULL_SYSLOG_URL         required. tls://relay:6514 (a TLS relay in front of
//	                              wazuh-remoted) or tcp://remoted:514 (private network).
//	                              udp:// is refused: it cannot confirm delivery.
//	WAZUH_PULL_SYSLOG_TLS_SECRET  optional, tls:// only. Secrets Manager secret (name or ARN)
//	                              holding the TLS material as JSON:
//	                              {"ca_pem":"…","client_cert_pem":"…","client_key_pem":"…",
//	                               "server_name":"…"}, every field optional (no ca_pem: the
//	                              system roots; no client certificate: no mTLS). PEM never
//	                              goes in the environment: a value that looks like PEM,
//	                              and the host variables WAZUH_PULL_SYSLOG_CA/_CERT/_KEY,
//	                              are refused.
//	WAZUH_PULL_SYSLOG_CLIENT_CERT optional (default) or required. required: the TLS secret
//	                              must hold client_cert_pem and client_key_pem (the relay
//	                              accepts mutual TLS only); checked when the secret is read,
//	                              before connecting, and failing with a ConfigError. Refused
//	                              with tcp:// or without a TLS secret.
//	WAZUH_PULL_SECRET_PREFIX      default "wazuh-pull". The credentials of a tenant are, in
//	                              the default layout, the secret "<prefix>/<vendor>/<tenant>"
//	                              (e.g. wazuh-pull/1password/acme), a JSON object whose fields
//	                              are the vendor's credential fields (1Password:
//	                              {"bearer_token","base_url"?}). The host variables of the
//	                              vendor that hold or point to credentials (OP_BEARER_TOKEN,
//	                              OP_BASE_URL, OP_SECRETS_FILE, OP_TOKENS_FILE, …) are refused.
//	WAZUH_PULL_SECRET_LAYOUT      tenant-vendor (default, as above), tenant (member "<vendor>"
//	                              of "<prefix>/tenants/<tenant>") or vendor (member "<tenant>"
//	                              of "<prefix>/<vendor>"); a grouped secret is read once for
//	                              all its members (awssm.Layout).
//	WAZUH_PULL_SECRET_TTL         default 15m, 1s–15m. How long a secret read is reused by
//	                              warm invocations; a 401 from the vendor re-reads it at once.
//	WAZUH_PULL_DEADLINE_MARGIN    default 10s, 0–5m. Fetching stops when less than this is
//	                              left before the invocation's deadline; the rest delivers
//	                              the last page, commits and reports. When it exceeds half
//	                              of an invocation, half is used (and a warning logged).
//	WAZUH_PULL_RATE_LIMIT         requests per minute this invocation sends to the vendor.
//	                              Default: the vendor's sustained per-credential limit
//	                              divided by its number of streams, since a tenant's streams
//	                              run as concurrent invocations on one credential
//	                              (1Password: 500/3 ≈ 167). -1: no pacing.
//	WAZUH_PULL_SYSLOG_EPS_BUDGET  default 500. Events per second the whole deployment may
//	                              send to the Wazuh manager (analysisd drops events when its
//	                              queues fill). -1: no pacing.
//	WAZUH_PULL_SYSLOG_EPS_SHARES  default 1. How many invocations may send at once: every
//	                              tenant stream of the deployment (the template counts them,
//	                              plus one). Each invocation sends at most the budget divided
//	                              by the shares, at least 1 event a second; a run whose next
//	                              page its share would hold back past the deadline stops at
//	                              that page ("stop": "paced"). localrun's per-sender
//	                              WAZUH_PULL_SYSLOG_EPS is refused.
//	WAZUH_PULL_LOG_LEVEL          debug, info (default), warn or error; when unset,
//	                              AWS_LAMBDA_LOG_LEVEL (Lambda's logging controls) applies.
//	WAZUH_PULL_METRICS_NAMESPACE  default "WazuhPull". CloudWatch namespace of the metrics.
//	WAZUH_PULL_TENANT_METRICS     default false. true adds the [vendor, tenant, stream]
//	                              dimension set to the metrics (billed per tenant and stream).
//
// The AWS SDK reads its usual variables (AWS_REGION, the role's
// credentials, and AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SECRETS_MANAGER
// for VPC endpoints). The vendor's <prefix>_LOOKBACK_HOURS and its settings
// marked for Lambda in its descriptor are read too (1Password:
// OP_LOOKBACK_HOURS, OP_PAGE_LIMIT); its other settings keep their
// defaults.
//
// # Time
//
// Fetching stops at the invocation deadline minus the margin. The lease
// lasts one minute from when it was taken, committed through or renewed
// (the pipeline renews it every 20 s while a page is slow), and never
// past the invocation's deadline plus a few seconds, so a killed or hung
// invocation frees its stream within about a minute. Commits of pages the syslog
// peer already confirmed are finished even when the invocation is being
// interrupted, and a commit may use all the time left until the
// invocation's deadline (half the margin at least): a state table that
// answers slowly then costs a late commit, not a repeated page. On SIGTERM (Lambda sends it at a timeout, through the
// internal extension lambda.WithEnableSIGTERM registers, and when it
// retires an environment) the run in progress is cancelled, commits what
// was delivered, releases its lease, and the sink is closed cleanly.
// Requests are paced so that the time budget, not the limiter, decides
// when an invocation stops.
//
// # Logs and metrics
//
// Logs are JSON on stderr (log/slog through logx, so every known secret
// is masked): one line per invocation with the summary ("stream done",
// "stream failed", "stream skipped…" or "stream interrupted…"), plus
// warnings and errors.
// Each invocation also prints one CloudWatch Embedded Metric Format line
// on stdout, which CloudWatch Logs turns into metrics without any API
// call, in the namespace above. CloudWatch bills each distinct metric, so
// the metrics carry the vendor and the stream kind only (dimension set
// [vendor, stream]): their number does not grow with the tenants, and
// alarms on their Sum and Maximum still see any single stream:
//
//	Events      Count    events delivered and committed
//	Failed      Count    1 when the stream failed, else 0 (Sum: failing stream runs)
//	LagSeconds  Seconds  now − newest delivered event (absent when none)
//
// The same line carries tenant and stream, and as plain fields Pages,
// Errors, Errors_<CODE>, Backlog, errors (the codes), duplicates, locked,
// duration_ms, paced_ms, run_id, stop and success, for Logs Insights (which names
// the tenant) and the Contributor Insights rule of the template's
// stale-streams alarm. WAZUH_PULL_TENANT_METRICS adds the dimension set
// [vendor, tenant, stream]. MetricsPerInvocation says how many values one
// line declares.
//
// An invocation refused for its payload or the configuration declares
// Events and Failed with the [vendor] dimension only (and
// Errors_CONFIG_INVALID as a field).
package lambdarun
