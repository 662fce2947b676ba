package casegen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/wazuh-pull/wazuh-pull/rules"
	"github.com/wazuh-pull/wazuh-pull/shared/event"
)

// Proofpoint is the Proofpoint TAP registration. Until functions/proofpoint
// exists it uses a stand-in (GenerateProofpointStandIn) built from the TAP
// SIEM and People API shapes; replace Generator with the collector's.
func Proofpoint() *Vendor {
	v, _ := rules.VendorByName("proofpoint")
	return &Vendor{
		Vendor:     v,
		EventTypes: []string{"messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked", ppTypeVAP, ppTypeTopClickers, "error", "run_summary"},
		Generator: Generator{
			Origin:   OriginStandIn,
			Describe: "stand-in: documented TAP SIEM API v2 and People API records through shared/pipeline (casegen.GenerateProofpointStandIn); replace with functions/proofpoint against its simulator",
			Run:      GenerateProofpointStandIn,
		},
		Cases: proofpointCases(),
	}
}

// The People API snapshot types the stand-in emits. The rules recognise
// people events by their statistics objects, not by these names.
const (
	ppTypeVAP         = "vap"
	ppTypeTopClickers = "top_clickers"
)

// ppStreams are the stand-in's streams: the SIEM API (all four arrays)
// and the People API.
var ppStreams = []string{"siem", "people"}

// Envelope of Proofpoint events (the seed framework's: "pp", event_type).
func ppEnvelope() event.Envelope { return event.Envelope{Integration: "proofpoint", Namespace: "pp"} }

type ppThreat struct {
	ThreatID       string  `json:"threatID"`
	Threat         string  `json:"threat"`
	ThreatType     string  `json:"threatType"`
	Classification string  `json:"classification"`
	ThreatStatus   string  `json:"threatStatus"`
	ThreatTime     string  `json:"threatTime"`
	CampaignID     *string `json:"campaignID"`
	ThreatURL      string  `json:"threatUrl"`
}

type ppPart struct {
	Disposition   string `json:"disposition"`
	Filename      string `json:"filename"`
	ContentType   string `json:"contentType"`
	OContentType  string `json:"oContentType"`
	MD5           string `json:"md5"`
	SHA256        string `json:"sha256"`
	SandboxStatus string `json:"sandboxStatus"`
}

type ppMessage struct {
	GUID                string     `json:"GUID"`
	ID                  string     `json:"id"`
	QID                 string     `json:"QID"`
	MessageID           string     `json:"messageID"`
	MessageTime         string     `json:"messageTime"`
	Sender              string     `json:"sender"`
	SenderIP            string     `json:"senderIP"`
	Recipient           []string   `json:"recipient"`
	ToAddresses         []string   `json:"toAddresses"`
	FromAddress         []string   `json:"fromAddress"`
	CCAddresses         []string   `json:"ccAddresses"`
	ReplyToAddress      []string   `json:"replyToAddress"`
	HeaderFrom          string     `json:"headerFrom"`
	HeaderTo            string     `json:"headerTo"`
	Subject             *string    `json:"subject"`
	XMailer             *string    `json:"xmailer"`
	MessageSize         int        `json:"messageSize"`
	SpamScore           int        `json:"spamScore"`
	PhishScore          int        `json:"phishScore"`
	MalwareScore        int        `json:"malwareScore"`
	ImpostorScore       int        `json:"impostorScore"`
	Cluster             string     `json:"cluster"`
	ModulesRun          []string   `json:"modulesRun"`
	PolicyRoutes        []string   `json:"policyRoutes"`
	QuarantineFolder    string     `json:"quarantineFolder,omitempty"`
	QuarantineRule      string     `json:"quarantineRule,omitempty"`
	CompletelyRewritten any        `json:"completelyRewritten"`
	MessageParts        []ppPart   `json:"messageParts"`
	ThreatsInfoMap      []ppThreat `json:"threatsInfoMap"`
}

type ppClick struct {
	ID             string  `json:"id"`
	GUID           string  `json:"GUID"`
	MessageID      string  `json:"messageID"`
	ClickTime      string  `json:"clickTime"`
	ClickIP        string  `json:"clickIP"`
	UserAgent      string  `json:"userAgent"`
	URL            string  `json:"url"`
	Recipient      string  `json:"recipient"`
	Sender         string  `json:"sender"`
	SenderIP       string  `json:"senderIP"`
	Classification string  `json:"classification"`
	ThreatID       string  `json:"threatID"`
	ThreatTime     string  `json:"threatTime"`
	ThreatStatus   string  `json:"threatStatus"`
	ThreatURL      string  `json:"threatURL"`
	CampaignID     *string `json:"campaignID"`
}

type ppIdentity struct {
	GUID           string   `json:"guid"`
	CustomerUserID *string  `json:"customerUserId"`
	Emails         []string `json:"emails"`
	Name           string   `json:"name"`
	Department     string   `json:"department"`
	Location       *string  `json:"location"`
	Title          *string  `json:"title"`
	VIP            bool     `json:"vip"`
}

type ppFamily struct {
	Name   string `json:"name"`
	Score  int    `json:"score,omitempty"`
	Clicks int    `json:"clicks,omitempty"`
}

type ppVAP struct {
	Identity         ppIdentity `json:"identity"`
	ThreatStatistics struct {
		AttackIndex int        `json:"attackIndex"`
		Families    []ppFamily `json:"families"`
	} `json:"threatStatistics"`
	Interval string `json:"interval"`
}

type ppTopClicker struct {
	Identity        ppIdentity `json:"identity"`
	ClickStatistics struct {
		ClickCount int        `json:"clickCount"`
		Families   []ppFamily `json:"families"`
	} `json:"clickStatistics"`
	Interval string `json:"interval"`
}

var ppUsers = []string{"ana@example.org", "ben@example.org", "chloe@example.org", "dev@example.org", "eli@example.org", "fay@example.org"}

func ppHash(parts ...any) string {
	h := sha256.Sum256([]byte(fmt.Sprint(parts...)))
	return hex.EncodeToString(h[:])
}

func ppTime(minutesAgo int) string {
	return genNow.Add(-time.Duration(minutesAgo) * time.Minute).Format("2006-01-02T15:04:05.000Z")
}

func ppThreatOf(n int, class, typ, status string) ppThreat {
	id := ppHash("threat", n, class)
	threat := "https://login.example-" + class + ".test/" + id[:8]
	if typ == "attachment" {
		threat = ppHash("file", n)
	}
	return ppThreat{ThreatID: id, Threat: threat, ThreatType: typ, Classification: class, ThreatStatus: status,
		ThreatTime: ppTime(60 + n), ThreatURL: "https://threatinsight.proofpoint.com/#/00000000-0000-0000-0000-000000000000/threat/email/" + id}
}

func ppMsg(n int, blocked bool, recipient string, threats ...ppThreat) ppMessage {
	subject := fmt.Sprintf("Invoice %d overdue", 4400+n)
	m := ppMessage{
		GUID: fmt.Sprintf("Xq2Lm9Rt-4cYp-7Vn1-Zb8K-%012d", n), ID: fmt.Sprintf("ab12cd34-5678-90ef-1234-%012d", n),
		QID: fmt.Sprintf("r2FNwRHF%06d", n), MessageID: fmt.Sprintf("<20260302%06d.%d@mailer.example.net>", n, n),
		MessageTime: ppTime(30 + n), Sender: ppHash("sender", n)[:32] + "@example.net", SenderIP: fmt.Sprintf("203.0.113.%d", 1+n%250),
		Recipient: []string{recipient}, ToAddresses: []string{recipient}, FromAddress: []string{"billing@example.net"},
		HeaderFrom: `"Billing" <billing@example.net>`, HeaderTo: "<" + recipient + ">", Subject: &subject,
		MessageSize: 48211 + n, SpamScore: 12, PhishScore: 91, Cluster: "acme_hosted",
		ModulesRun: []string{"urldefense", "sandbox", "spam"}, PolicyRoutes: []string{"default_inbound"},
		CompletelyRewritten: "true",
		MessageParts: []ppPart{{Disposition: "inline", Filename: "text.html", ContentType: "text/html", OContentType: "text/html",
			MD5: ppHash("md5", n)[:32], SHA256: ppHash("sha", n), SandboxStatus: "unsupported"}},
		ThreatsInfoMap: threats,
	}
	if blocked {
		m.QuarantineFolder, m.QuarantineRule = "Phish", "phish"
		m.CompletelyRewritten = false
	}
	return m
}

func ppClickOf(n int, recipient, class, status string, threat ppThreat) ppClick {
	return ppClick{
		ID: fmt.Sprintf("de7eef56-1234-4a5b-9c8d-%012d", n), GUID: fmt.Sprintf("Xq2Lm9Rt-4cYp-7Vn1-Zb8K-%012d", n),
		MessageID: fmt.Sprintf("<20260302%06d.%d@mailer.example.net>", n, n), ClickTime: ppTime(20 + n),
		ClickIP: fmt.Sprintf("198.51.100.%d", 1+n%250), UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
		URL: threat.Threat, Recipient: recipient, Sender: ppHash("sender", n)[:32] + "@example.net", SenderIP: "203.0.113.9",
		Classification: class, ThreatID: threat.ThreatID, ThreatTime: threat.ThreatTime, ThreatStatus: status,
		ThreatURL: threat.ThreatURL,
	}
}

func ppPerson(n int, email string, vip bool) ppIdentity {
	id := ppIdentity{GUID: ppHash("person", n)[:36], Emails: []string{email}, Name: fmt.Sprintf("Person %d", n), Department: "Finance", VIP: vip}
	if vip {
		title := "Chief Financial Officer"
		id.Title = &title
	}
	return id
}

// ppRecords are the stand-in's SIEM and People records: every message and
// click type with each classification, threat states, repeated clicks by
// one user and on one threat, and snapshots of attacked people and top
// clickers.
func ppRecords() (siem, people []record) {
	n := 0
	next := func() int { n++; return n }
	msg := func(typ string, blocked bool, recipient, class, threatType, status string) {
		i := next()
		siem = append(siem, record{typ, fmt.Sprintf("%s:%d", typ, i), ppMsg(i, blocked, recipient, ppThreatOf(i, class, threatType, status))})
	}
	click := func(typ, recipient, class, status string, threat ppThreat) {
		i := next()
		siem = append(siem, record{typ, fmt.Sprintf("%s:%d", typ, i), ppClickOf(i, recipient, class, status, threat)})
	}
	for _, class := range []string{"malware", "phish", "impostor", "spam"} {
		typ := "url"
		switch class {
		case "malware":
			typ = "attachment"
		case "impostor":
			typ = "messageText"
		}
		msg("messagesBlocked", true, ppUsers[0], class, typ, "active")
		msg("messagesDelivered", false, ppUsers[1], class, typ, "active")
	}
	// Three threats delivered to one mailbox within the hour.
	for range 3 {
		msg("messagesDelivered", false, ppUsers[2], "phish", "url", "active")
	}
	for _, class := range []string{"malware", "phish", "spam"} {
		click("clicksBlocked", ppUsers[3], class, "active", ppThreatOf(next(), class, "url", "active"))
		click("clicksPermitted", ppUsers[4], class, "active", ppThreatOf(next(), class, "url", "active"))
	}
	// A permitted click on a threat since judged a false positive.
	click("clicksPermitted", ppUsers[4], "malware", "falsePositive", ppThreatOf(next(), "malware", "url", "falsePositive"))
	// One user clicking three blocked phishing URLs.
	for range 3 {
		click("clicksBlocked", ppUsers[5], "phish", "active", ppThreatOf(next(), "phish", "url", "active"))
	}
	// Three users reaching the same permitted phishing URL.
	campaign := ppThreatOf(next(), "phish", "url", "active")
	for _, u := range ppUsers[:3] {
		click("clicksPermitted", u, "phish", "active", campaign)
	}
	interval := genNow.Add(-14*24*time.Hour).Format(time.RFC3339) + "/" + genNow.Format(time.RFC3339)
	for i, vip := range []bool{false, true} {
		v := ppVAP{Identity: ppPerson(100+i, ppUsers[i], vip), Interval: interval}
		v.ThreatStatistics.AttackIndex = 1805 + 400*i
		v.ThreatStatistics.Families = []ppFamily{{Name: "credential phishing", Score: 700}}
		people = append(people, record{ppTypeVAP, fmt.Sprintf("vap:%d", i), v})
	}
	tc := ppTopClicker{Identity: ppPerson(200, ppUsers[3], false), Interval: interval}
	tc.ClickStatistics.ClickCount = 7
	tc.ClickStatistics.Families = []ppFamily{{Name: "credential phishing", Clicks: 5}, {Name: "malware", Clicks: 2}}
	people = append(people, record{ppTypeTopClickers, "top_clickers:0", tc})
	return siem, people
}

// GenerateProofpointStandIn writes the stand-in's Proofpoint lines.
func GenerateProofpointStandIn(ctx context.Context) ([]*Line, error) {
	g, err := newStandinGen(ppEnvelope())
	if err != nil {
		return nil, err
	}
	defer g.close()
	siem, people := ppRecords()
	future := []record{{"messagesQuarantined", "future:1", ppMsg(900, true, ppUsers[0], ppThreatOf(900, "spam", "url", "active"))}}
	if err := g.run(ctx, standinRun{scenario: "bulk", allStreams: ppStreams, streams: []standinStream{
		{name: "siem", records: append(siem, future...)}, {name: "people", records: people}}}); err != nil {
		return nil, err
	}
	if err := g.standinHealth(ctx, ppStreams, siem[:2]); err != nil {
		return nil, err
	}
	return g.lines, nil
}

func pp(field string) string { return "pp." + field }

func ppType(t string) Pred { return Is(pp("event_type"), t) }

func proofpointCases() []CaseSpec {
	bulk := Scenario("bulk")
	msg := func(typ, class, recipient string) Pred {
		return All(bulk, ppType(typ), Contains(pp("threatsInfoMap"), `"classification":"`+class+`"`), Contains(pp("recipient"), recipient))
	}
	click := func(typ, class, status, recipient string) Pred {
		return All(bulk, ppType(typ), Is(pp("classification"), class), Is(pp("threatStatus"), status), Is(pp("recipient"), recipient))
	}
	return append(healthCases("pp", map[string]int{
		"base": 100670, "401": 100671, "429": 100672, "conn": 100673, "state": 100674, "400": 100675, "500": 100676,
		"unexpected-status": 100677, "invalid-response": 100678, "unexpected": 100679, "fatal": 100680, "delivery": 100681,
		"reduced": 100682, "cursor-reset": 100683, "gap": 100684, "invalid-event": 100685, "config": 100686, "too-large": 100689,
		"401-repeat": 100687, "delivery-repeat": 100688,
		"summary": 100690, "summary-failed": 100691, "summary-backlog": 100692, "summary-budget": 100693, "summary-locked": 100694, "summary-behind": 100695,
	}),
		CaseSpec{"message blocked: spam", One(msg("messagesBlocked", "spam", ppUsers[0])), []int{100601}},
		CaseSpec{"message blocked: malware", One(msg("messagesBlocked", "malware", ppUsers[0])), []int{100610}},
		CaseSpec{"message blocked: phishing", One(msg("messagesBlocked", "phish", ppUsers[0])), []int{100611}},
		CaseSpec{"message blocked: impostor", One(msg("messagesBlocked", "impostor", ppUsers[0])), []int{100612}},
		CaseSpec{"message delivered: spam", One(msg("messagesDelivered", "spam", ppUsers[1])), []int{100602}},
		CaseSpec{"message delivered: malware", One(msg("messagesDelivered", "malware", ppUsers[1])), []int{100613}},
		CaseSpec{"message delivered: phishing", One(msg("messagesDelivered", "phish", ppUsers[1])), []int{100614}},
		CaseSpec{"message delivered: impostor", One(msg("messagesDelivered", "impostor", ppUsers[1])), []int{100615}},
		CaseSpec{"click blocked: spam", One(click("clicksBlocked", "spam", "active", ppUsers[3])), []int{100603}},
		CaseSpec{"click blocked: malware", One(click("clicksBlocked", "malware", "active", ppUsers[3])), []int{100630}},
		CaseSpec{"click blocked: phishing", One(click("clicksBlocked", "phish", "active", ppUsers[3])), []int{100631}},
		CaseSpec{"click permitted: spam", One(click("clicksPermitted", "spam", "active", ppUsers[4])), []int{100604}},
		CaseSpec{"click permitted: malware", One(click("clicksPermitted", "malware", "active", ppUsers[4])), []int{100632}},
		CaseSpec{"click permitted: phishing", One(click("clicksPermitted", "phish", "active", ppUsers[4])), []int{100633}},
		CaseSpec{"click permitted: threat judged a false positive", One(click("clicksPermitted", "malware", "falsePositive", ppUsers[4])), []int{100634}},
		CaseSpec{"people: very attacked person", One(bulk, Has(pp("threatStatistics.attackIndex")), Is(pp("identity.vip"), "false")), []int{100605}},
		CaseSpec{"people: very attacked VIP", One(bulk, Has(pp("threatStatistics.attackIndex")), Is(pp("identity.vip"), "true")), []int{100650}},
		CaseSpec{"people: top clicker", One(bulk, Has(pp("clickStatistics.clickCount"))), []int{100606}},
		CaseSpec{"event type these rules do not know", One(bulk, ppType("messagesQuarantined")), []int{100699}},
		CaseSpec{"clicks: one user clicking three blocked URLs", Repeat(3, click("clicksBlocked", "phish", "active", ppUsers[5])), []int{100631, 100631, 100660}},
		CaseSpec{"clicks: three users reaching one permitted URL", Distinct(3, []string{pp("recipient")}, bulk, ppType("clicksPermitted"), Is(pp("classification"), "phish"), Is(pp("recipient"), ppUsers[0]).or(Is(pp("recipient"), ppUsers[1])).or(Is(pp("recipient"), ppUsers[2]))), []int{100633, 100633, 100661}},
		CaseSpec{"messages: three threats delivered to one mailbox", Repeat(3, msg("messagesDelivered", "phish", ppUsers[2])), []int{100614, 100614, 100662}},
	)
}

// or combines predicates.
func (p Pred) or(q Pred) Pred { return func(l *Line) bool { return p(l) || q(l) } }

// healthCases are the integration-health cases every stand-in shares;
// ids maps each kind to the vendor's rule.
func healthCases(ns string, ids map[string]int) []CaseSpec {
	typeKey := "event_type"
	if ns == "xdr" {
		typeKey = "type"
	}
	errOf := func(scenario string) func(*Pool) ([]*Line, error) {
		return One(Scenario(scenario), Is(ns+"."+typeKey, "error"))
	}
	summary := func(scenario string) func(*Pool) ([]*Line, error) {
		return One(Scenario(scenario), Is(ns+"."+typeKey, "run_summary"))
	}
	return []CaseSpec{
		{"error with a code these rules do not know yet", errOf("error-unknown-code"), []int{ids["base"]}},
		{"credential refused", errOf("error-401-1"), []int{ids["401"]}},
		{"credential missing", errOf("error-missing-credential"), []int{ids["401"]}},
		{"rate limit", errOf("error-429"), []int{ids["429"]}},
		{"timeout", errOf("error-timeout"), []int{ids["conn"]}},
		{"connection refused", errOf("error-connection"), []int{ids["conn"]}},
		{"state unreadable", errOf("error-state-read"), []int{ids["state"]}},
		{"state not writable", errOf("error-state-write"), []int{ids["state"]}},
		{"request refused", errOf("error-400"), []int{ids["400"]}},
		{"server error", errOf("error-500"), []int{ids["500"]}},
		{"unexpected status", errOf("error-unexpected-status"), []int{ids["unexpected-status"]}},
		{"unreadable response", errOf("error-invalid-response"), []int{ids["invalid-response"]}},
		{"unexpected failure", errOf("error-unexpected"), []int{ids["unexpected"]}},
		{"run aborted", errOf("error-fatal"), []int{ids["fatal"]}},
		{"delivery not confirmed", errOf("error-delivery-1"), []int{ids["delivery"]}},
		{"event reduced", errOf("error-reduced"), []int{ids["reduced"]}},
		{"cursor reset", errOf("error-cursor-reset"), []int{ids["cursor-reset"]}},
		{"collection gap", errOf("error-gap"), []int{ids["gap"]}},
		{"undecodable record", errOf("error-invalid-event"), []int{ids["invalid-event"]}},
		{"invalid configuration", errOf("error-config"), []int{ids["config"]}},
		{"response over its size limit", errOf("error-too-large"), []int{ids["too-large"]}},
		{"credential refused twice", Then(errOf("error-401-1"), errOf("error-401-2")), []int{ids["401"], ids["401-repeat"]}},
		{"delivery failing three times", Then(errOf("error-delivery-1"), errOf("error-delivery-2"), errOf("error-delivery-3")), []int{ids["delivery"], ids["delivery"], ids["delivery-repeat"]}},
		{"run summary: healthy", summary("healthy"), []int{ids["summary"]}},
		{"run summary: a stream failed", summary("stream-failed"), []int{ids["summary-failed"]}},
		{"run summary: interrupted with a backlog", summary("interrupted"), []int{ids["summary-backlog"]}},
		{"run summary: stopped at the event budget", summary("max-events-1"), []int{ids["summary-budget"]}},
		{"run summary: stream locked", summary("locked"), []int{ids["summary-locked"]}},
		{"run summary: backlog in three runs", Then(summary("max-events-1"), summary("max-events-2"), summary("max-events-3")), []int{ids["summary-budget"], ids["summary-budget"], ids["summary-behind"]}},
	}
}
