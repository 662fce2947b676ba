package casegen

import (
	"fmt"

	"github.com/wazuh-pull/wazuh-pull/functions/onepassword"
	"github.com/wazuh-pull/wazuh-pull/rules"
)

// OnePassword is the 1Password registration: the real collector against
// its simulator.
func OnePassword() *Vendor {
	v, _ := rules.VendorByName("1password")
	var types []string
	for _, s := range onepassword.Streams() {
		types = append(types, s.EventType)
	}
	return &Vendor{
		Vendor:     v,
		EventTypes: append(types, "error", "run_summary"),
		Generator: Generator{
			Origin:   OriginCollector,
			Describe: "functions/onepassword against functions/onepassword/onepasswordtest through shared/pipeline (casegen.GenerateOnePassword)",
			Run:      GenerateOnePassword,
		},
		Cases: onePasswordCases(),
	}
}

// op names a 1Password field.
func op(field string) string { return "op." + field }

func opType(t string) Pred { return Is(op("event_type"), t) }

func opErr(code string) Pred { return All(opType("error"), Is(op("error_code"), code)) }

func opSummary(scenario string) Pred { return All(Scenario(scenario), opType("run_summary")) }

func onePasswordCases() []CaseSpec {
	bulk := Scenario("bulk")
	audit := func(action, object string, more ...Pred) func(*Pool) ([]*Line, error) {
		return One(append([]Pred{bulk, opType("audit_event"), Is(op("action"), action), Is(op("object_type"), object), Is(op("actor_type"), "user")}, more...)...)
	}
	signin := func(category string, more ...Pred) Pred {
		return All(append([]Pred{bulk, opType("signin_attempt"), Is(op("category"), category), Not(Has(op("wazuh_pull.reduced.original_bytes")))}, more...)...)
	}
	item := func(action string) Pred { return All(bulk, opType("item_usage"), Is(op("action"), action)) }
	failed := All(bulk, opType("signin_attempt"), In(op("category"), "credentials_failed", "mfa_failed"))
	plain := Is(op("actor_type"), "user")

	cases := []CaseSpec{
		// Integration health: errors.
		{"error with a code these rules do not know yet", One(opErr("API_HTTP_403")), []int{100701}},
		{"expired token at introspection", One(Scenario("expired-token-1"), opErr("API_HTTP_401")), []int{100702}},
		{"no bearer token configured", One(Scenario("missing-credential"), opErr("CONFIG_MISSING_CREDENTIAL")), []int{100702}},
		{"credential failures in two runs", Then(One(Scenario("expired-token-1"), opErr("API_HTTP_401")), One(Scenario("expired-token-2"), opErr("API_HTTP_401"))), []int{100702, 100709}},
		{"rate limit on sign-ins after retries", One(opErr("API_HTTP_429")), []int{100703}},
		{"request timeout", One(opErr("API_TIMEOUT")), []int{100704}},
		{"connection reset", One(opErr("API_CONNECTION_ERROR")), []int{100704}},
		{"state file unreadable", One(opErr("STATE_READ_ERROR")), []int{100705}},
		{"state file not writable", One(opErr("STATE_WRITE_ERROR")), []int{100705}},
		{"stored cursor refused", One(opErr("API_HTTP_400")), []int{100780}},
		{"server error after retries", One(opErr("API_HTTP_500")), []int{100781}},
		{"bad gateway after retries", One(opErr("API_HTTP_UNEXPECTED")), []int{100782}},
		{"truncated page after retries", One(opErr("API_INVALID_RESPONSE")), []int{100783}},
		{"unexpected failure in a stream", One(opErr("API_UNEXPECTED_ERROR")), []int{100784}},
		{"run aborted", One(opErr("ORCHESTRATOR_FATAL")), []int{100785}},
		{"sink did not confirm delivery", One(Scenario("delivery-failed-1"), opErr("DELIVERY_FAILED")), []int{100786}},
		{"event reduced", One(opErr("EVENT_REDUCED")), []int{100787}},
		{"cursor reset", One(opErr("CURSOR_RESET")), []int{100788}},
		{"collection gap", One(opErr("COLLECTION_GAP")), []int{100789}},
		{"undecodable vendor event", One(opErr("API_INVALID_EVENT")), []int{100790}},
		{"invalid base URL", One(opErr("CONFIG_INVALID")), []int{100791}},
		{"response over its size limit", One(opErr("API_RESPONSE_TOO_LARGE")), []int{100799}},
		{"request budget nearly used up", One(opErr("API_REQUEST_BUDGET")), []int{100779}},
		{"delivery failing in three runs", Then(
			One(Scenario("delivery-failed-1"), opErr("DELIVERY_FAILED")),
			One(Scenario("delivery-failed-2"), opErr("DELIVERY_FAILED")),
			One(Scenario("delivery-failed-3"), opErr("DELIVERY_FAILED"))), []int{100786, 100786, 100792}},

		// Integration health: run summaries.
		{"run summary: audit stream failed", One(opSummary("server-error-audit-1")), []int{100706}},
		{"run summary: sign-in stream failed", One(opSummary("rate-limit-signin")), []int{100707}},
		{"run summary: item usage stream failed", One(opSummary("bad-gateway-itemusage")), []int{100708}},
		{"run summary: a tenant's stream failed (multi-tenant)", One(opSummary("multi-tenant")), []int{100798}},
		{"run summary: stopped at the event budget", One(opSummary("max-events-1")), []int{100795}},
		{"run summary: stopped at the time budget", One(opSummary("deadline")), []int{100795}},
		{"run summary: interrupted with a backlog", One(opSummary("interrupted")), []int{100794}},
		{"run summary: stream locked by another collector", One(opSummary("locked")), []int{100796}},
		{"run summary: healthy run", One(opSummary("healthy")), []int{100793}},
		{"run summary: backlog in three runs", Then(One(opSummary("max-events-1")), One(opSummary("max-events-2")), One(opSummary("max-events-3"))), []int{100795, 100795, 100797}},
		{"run summary: audit stream failing in three runs", Then(One(opSummary("server-error-audit-1")), One(opSummary("server-error-audit-2")), One(opSummary("server-error-audit-3"))), []int{100706, 100706, 100750}},

		// Audit events.
		{"audit: invite created", audit("create", "invite"), []int{100710}},
		{"audit: event full of awkward JSON", One(bulk, opType("audit_event"), Has(op("future_object.list"))), []int{100710}},
		{"audit: user created", audit("create", "user"), []int{100711}},
		{"audit: user suspended", audit("suspend", "user"), []int{100711}},
		{"audit: group membership", audit("join", "gm"), []int{100712}},
		{"audit: vault access object changed", audit("grant", "va"), []int{100713}},
		{"audit: vault access granted", audit("grant", "vault"), []int{100726}},
		{"audit: vault access revoked", audit("revoke", "vault"), []int{100726}},
		{"audit: security policy changed", audit("update", "p"), []int{100714}},
		{"audit: service account", audit("create", "sa"), []int{100715}},
		{"audit: service account token created", audit("create", "satoken"), []int{100715}},
		{"audit: account recovery", audit("recover", "user"), []int{100716}},
		{"audit: firewall rule object", audit("update", "fw"), []int{100717}},
		{"audit: firewall rules updated", audit("updatfw", "account"), []int{100727}},
		{"audit: items exported", audit("export", "items"), []int{100718}},
		{"audit: billing change", audit("update", "stripe"), []int{100719}},
		{"audit: SSO enabled", audit("enblsso", "sso"), []int{100720}},
		{"audit: SSO configuration", audit("sdvcsso", "sso"), []int{100720}},
		{"audit: MFA enabled", audit("enblmfa", "user"), []int{100721}},
		{"audit: MFA disabled", audit("disblmfa", "user"), []int{100725}},
		{"audit: MFA disabled (seed spelling)", audit("dsblmfa", "user"), []int{100725}},
		{"audit: vault created", audit("create", "vault"), []int{100722}},
		{"audit: account password changed", audit("changemp", "user"), []int{100723}},
		{"audit: token revoked", audit("trevoke", "ssotkn"), []int{100724}},
		{"audit: routine action by an external (MSP) user", One(bulk, opType("audit_event"), Is(op("actor_type"), "external_user"), In(op("action"), "create", "view", "leave", "join", "update", "unlink")), []int{100728}},
		{"audit: three security policy changes", Repeat(3, bulk, opType("audit_event"), Is(op("action"), "update"), Is(op("object_type"), "p")), []int{100714, 100714, 100752}},
		{"audit: five vault access changes", Then(
			Repeat(4, bulk, opType("audit_event"), In(op("action"), "grant", "revoke"), Is(op("object_type"), "vault"), plain),
			One(bulk, opType("audit_event"), Is(op("object_type"), "va"))), []int{100726, 100726, 100726, 100726, 100753}},
		{"audit: three service account operations", Repeat(3, bulk, opType("audit_event"), Is(op("object_type"), "satoken"), plain), []int{100715, 100715, 100754}},

		// Sign-in attempts.
		{"sign-in: category added after these rules", One(signin("future_category")), []int{100730}},
		{"sign-in: success", One(signin("success", Is(op("type"), "credentials_ok"))), []int{100731}},
		{"sign-in: federated (SSO) success", One(signin("success", Is(op("type"), "federated"))), []int{100734}},
		{"sign-in: wrong password", One(signin("credentials_failed")), []int{100732}},
		{"sign-in: MFA failed", One(signin("mfa_failed")), []int{100732}},
		{"sign-in: blocked by the firewall", One(signin("firewall_failed")), []int{100733}},
		{"sign-in: oversized, reduced to fit", One(bulk, opType("signin_attempt"), Has(op("wazuh_pull.reduced.original_bytes"))), []int{100733}},
		{"sign-in: SSO failed", One(signin("sso_failed")), []int{100737}},
		{"sign-in: outdated client", One(signin("modern_version_failed")), []int{100738}},
		{"sign-in: firewall in report-only mode", One(signin("firewall_reported_success")), []int{100739}},
		{"sign-in: three failures for one user", Same(3, op("target_user.uuid"), []string{op("client.ip_address")}, failed), []int{100732, 100732, 100735}},
		{"sign-in: five failures from one address", Same(5, op("client.ip_address"), []string{op("target_user.uuid")}, failed), []int{100732, 100732, 100732, 100732, 100755}},
		{"sign-in: five firewall blocks", Distinct(5, []string{op("target_user.uuid"), op("client.ip_address")}, signin("firewall_failed")), []int{100733, 100733, 100733, 100733, 100736}},
		{"sign-in: ten failures across users", Distinct(10, []string{op("target_user.uuid"), op("client.ip_address")}, failed), Rules(100732, 9, 100751)},
		{"sign-in: success after two failures", successAfterFailures(failed, signin("success", Is(op("type"), "credentials_ok"))), []int{100732, 100732, 100756}},

		// Item usage.
		{"item: filled", One(item("fill")), []int{100740}},
		{"item: revealed", One(item("reveal")), []int{100741}},
		{"item: copied", One(item("secure-copy")), []int{100741}},
		{"item: exported", One(item("export")), []int{100742}},
		{"item: shared", One(item("share")), []int{100743}},
		{"item: fetched by a server", One(item("server-fetch")), []int{100744}},
		{"item: SSO provider selected", One(item("select-sso-provider")), []int{100745}},
		{"item: ten uses by one user", Same(10, op("user.uuid"), nil, bulk, opType("item_usage"), In(op("action"), "fill", "enter-item-edit-mode", "other")), Rules(100740, 9, 100746)},
		{"item: three exports by one user", Same(3, op("user.uuid"), nil, item("export")), []int{100742, 100742, 100747}},
		{"item: five reveals and copies by one user", Same(5, op("user.uuid"), nil, bulk, opType("item_usage"), In(op("action"), "reveal", "secure-copy")), []int{100741, 100741, 100741, 100741, 100748}},
	}
	return cases
}

// successAfterFailures picks two failed sign-ins of one user and a later
// successful one of the same user.
func successAfterFailures(failed, success Pred) func(*Pool) ([]*Line, error) {
	return func(p *Pool) ([]*Line, error) {
		byUser := map[string][]*Line{}
		for _, l := range p.Lines {
			u := l.Get(op("target_user.uuid"))
			switch {
			case failed(l):
				byUser[u] = append(byUser[u], l)
			case success(l) && len(byUser[u]) >= 2:
				return []*Line{byUser[u][0], byUser[u][1], l}, nil
			}
		}
		return nil, fmt.Errorf("no user has two failed sign-ins before a successful one")
	}
}
