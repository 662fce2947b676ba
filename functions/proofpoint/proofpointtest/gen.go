package proofpointtest

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SIEM event types: the names of the arrays in a response.
const (
	TypeMessagesDelivered = "messagesDelivered"
	TypeMessagesBlocked   = "messagesBlocked"
	TypeClicksPermitted   = "clicksPermitted"
	TypeClicksBlocked     = "clicksBlocked"
)

// AllTypes lists the four arrays of /v2/siem/all in the documented order.
func AllTypes() []string {
	return []string{TypeMessagesBlocked, TypeMessagesDelivered, TypeClicksBlocked, TypeClicksPermitted}
}

// Event is one simulated SIEM event.
type Event struct {
	Type string
	// Created is what windows select on: the later of the message or
	// click time and the verdict.
	Created time.Time
	// Indexed is when the event becomes visible (Created plus a lag).
	Indexed time.Time
	// Own is the event's own timestamp (messageTime or clickTime).
	Own time.Time
	// Identity is unique per event: type/GUID/recipient for messages,
	// type/id for clicks. Tests recompute it from delivered lines.
	Identity    string
	Status      string
	ThreatTypes []string
	Raw         []byte
}

// Traffic describes generated events.
type Traffic struct {
	// From and To bound the creation times.
	From, To time.Time
	// MessagesPerHour counts messages (each yields one event per recipient);
	// ClicksPerHour counts click events.
	MessagesPerHour, ClicksPerHour float64
	// MultiRecipient is the share of messages sent to 2–6 recipients
	// (default 0.2; negative for none).
	MultiRecipient float64
	// Retroactive is the share of clicks (and, at a tenth of it, of
	// delivered messages) whose own time is hours to days before the
	// verdict that created the event (default 0.1; negative for none).
	Retroactive float64
	// MaxIndexLag bounds how long after creation an event becomes visible
	// (default 30 min; negative for none). A third of the events use the
	// full range, the rest arrive within two minutes.
	MaxIndexLag time.Duration
	// FalsePositive is the share of events whose threat status is
	// falsePositive (excluded by the API unless asked for).
	FalsePositive float64
	// IndexedAt, when set, makes every event visible at that time (a
	// batch TAP indexed late) instead of after MaxIndexLag.
	IndexedAt time.Time
	// Mailboxes is how many distinct mailboxes receive the messages and
	// make the clicks (default 640): a small tenant's users receive and
	// click several threats each.
	Mailboxes int
	// Campaigns is the share of clicks on the URL of one of three campaign
	// threats (one phishing, one malware, one spam), shared by every click
	// on it: several users reaching the same threat. Default none.
	Campaigns float64
	// TimeForms writes some event times without milliseconds and some
	// with a numeric zone ("+00:00"), as TAP payloads have them; off,
	// every time is "2006-01-02T15:04:05.000Z".
	TimeForms bool
	// Seed varies the events (0: derived from the tenant and From).
	Seed uint64
}

func (t *Traffic) defaults(tenantName string) {
	if t.MultiRecipient == 0 {
		t.MultiRecipient = 0.2
	}
	if t.Retroactive == 0 {
		t.Retroactive = 0.1
	}
	if t.MaxIndexLag == 0 {
		t.MaxIndexLag = 30 * time.Minute
	}
	if t.Seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(tenantName))
		t.Seed = h.Sum64() ^ uint64(t.From.UnixNano())
	}
}

// Generate adds the traffic's events to a tenant and returns how many.
func (s *Server) Generate(tenantName string, t Traffic) int {
	t.defaults(tenantName)
	g := &gen{rng: rand.New(rand.NewPCG(t.Seed, 0x51e)), t: t}
	events := g.run()
	if !t.IndexedAt.IsZero() {
		for _, e := range events {
			e.Indexed = t.IndexedAt
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenantLocked(tenantName)
	tn.events = append(tn.events, events...)
	tn.sorted = false
	return len(events)
}

// Ingest adds one explicit event (tests of odd payloads). Raw must be a
// JSON object. An event whose Type is none of the four arrays is served by
// /v2/siem/all in an array of that name, after the four: an array TAP may
// add later.
func (s *Server) Ingest(tenantName string, e Event) {
	if e.Indexed.IsZero() {
		e.Indexed = e.Created
	}
	if e.Status == "" {
		e.Status = "active"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenantLocked(tenantName)
	ev := e
	tn.events = append(tn.events, &ev)
	tn.sorted = false
	if !slices.Contains(AllTypes(), e.Type) && !slices.Contains(tn.futureTypes, e.Type) {
		tn.futureTypes = append(tn.futureTypes, e.Type)
	}
}

// Events returns the tenant's events (by creation time); Raw is shared.
func (s *Server) Events(tenantName string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenantLocked(tenantName)
	tn.sortLocked()
	out := make([]Event, len(tn.events))
	for i, e := range tn.events {
		out[i] = *e
	}
	return out
}

type gen struct {
	rng *rand.Rand
	t   Traffic
	b   []byte
	// campaigns are the threats Traffic.Campaigns shares between clicks,
	// made at the first campaign click.
	campaigns []threat
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (g *gen) word(n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteByte(alnum[g.rng.IntN(len(alnum))])
	}
	return sb.String()
}

func (g *gen) hexN(n int) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hexd[g.rng.IntN(16)]
	}
	return string(b)
}

func (g *gen) uuid() string {
	h := g.hexN(32)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (g *gen) guid() string {
	return g.word(8) + "-" + g.word(4) + "-" + g.word(4) + "-" + g.word(4) + "-" + g.word(12)
}

func (g *gen) ip() string {
	return fmt.Sprintf("%d.%d.%d.%d", []int{198, 203, 192}[g.rng.IntN(3)], 51+g.rng.IntN(50), g.rng.IntN(256), 1+g.rng.IntN(254))
}

func (g *gen) chance(p float64) bool { return p > 0 && g.rng.Float64() < p }

func (g *gen) lag() time.Duration {
	if g.t.MaxIndexLag < 0 {
		return 0
	}
	if g.rng.IntN(3) == 0 {
		return time.Duration(g.rng.Int64N(int64(g.t.MaxIndexLag) + 1))
	}
	return time.Duration(g.rng.Int64N(int64(min(2*time.Minute, g.t.MaxIndexLag)) + 1))
}

var (
	users      = []string{"ana", "ben", "chen", "dara", "eli", "fatima", "goran", "hana", "ivo", "jun", "kai", "lena", "mo", "nia", "omar", "pia"}
	subjects   = []string{`Invoice 4471 overdue`, `Your "parcel" is waiting`, `Password expires today – act now`, `Q3 results ✓ confidential`, "Re: wire transfer\nurgent", `Rechnung für März`, `DocuSign: please review <contract>`}
	families   = []string{"phish", "malware", "spam", "impostor"}
	agents     = []string{"Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "curl/8.5.0"}
	folders    = []string{"Phish", "Malware", "Spam", "Impostor"}
	modules    = []string{"urldefense", "sandbox", "spam", "av", "dkimv", "spf", "dmarc"}
	partTypes  = []string{"text/html", "text/plain", "application/pdf", "application/zip"}
	sandboxSts = []string{"unsupported", "clean", "threat", "prefilter", "uploaded", "inprogress", "uploaddisabled"}
)

func (g *gen) recipient() string {
	if g.t.Mailboxes > 0 {
		n := g.rng.IntN(g.t.Mailboxes)
		return users[n%len(users)] + strconv.Itoa(n/len(users)) + "@example.org"
	}
	return users[g.rng.IntN(len(users))] + strconv.Itoa(g.rng.IntN(40)) + "@example.org"
}

func (g *gen) when() time.Time {
	span := g.t.To.Sub(g.t.From)
	if span <= 0 {
		return g.t.From
	}
	// Whole milliseconds, as TAP serves them; with TimeForms one time in
	// sixteen whole seconds, which stamp writes without a fraction.
	t := g.t.From.Add(time.Duration(g.rng.Int64N(int64(span)))).Truncate(time.Millisecond)
	if g.t.TimeForms && t.Nanosecond()/int(time.Millisecond)%16 == 3 {
		t = t.Truncate(time.Second)
	}
	return t
}

func (g *gen) status() string {
	switch {
	case g.chance(g.t.FalsePositive):
		return "falsePositive"
	case g.chance(0.1):
		return "cleared"
	}
	return "active"
}

func (g *gen) run() []*Event {
	hours := g.t.To.Sub(g.t.From).Hours()
	var out []*Event
	for range int(g.t.MessagesPerHour*hours + 0.5) {
		out = append(out, g.message()...)
	}
	for range int(g.t.ClicksPerHour*hours + 0.5) {
		out = append(out, g.click())
	}
	return out
}

type threat struct {
	id, value, kind, class, status, url string
	campaign                            string
	at                                  time.Time
}

func (g *gen) threat(at time.Time, status string) threat {
	kinds := []string{"url", "url", "attachment", "messageText"}
	th := threat{id: g.hexN(64), kind: kinds[g.rng.IntN(len(kinds))], class: families[g.rng.IntN(len(families))], status: status, at: at}
	switch th.kind {
	case "url":
		th.value = "https://login." + strings.ToLower(g.word(6)) + "-phish.test/" + g.word(3)
	case "attachment":
		th.value = g.hexN(64)
	default:
		th.value = strings.ToLower(g.word(5)) + "@impostor.test"
	}
	th.url = "https://threatinsight.proofpoint.com/#/" + g.uuid() + "/threat/email/" + th.id
	if g.chance(0.3) {
		th.campaign = g.uuid()
	}
	if g.chance(0.2) {
		th.kind = strings.ToUpper(th.kind[:1]) + th.kind[1:]
	}
	if g.chance(0.2) {
		th.class = strings.ToUpper(th.class)
	}
	return th
}

// message returns one event per recipient of a new message; they share
// GUID, QID, messageID and messageTime.
func (g *gen) message() []*Event {
	msgTime := g.when()
	created := msgTime
	delivered := g.rng.IntN(5) < 2
	retro := delivered && g.chance(g.t.Retroactive/10)
	if retro {
		// A verdict that came later: the event is created then.
		created = msgTime.Add(10*time.Minute + time.Duration(g.rng.Int64N(int64(6*time.Hour))))
		if created.After(g.t.To) {
			created = g.t.To
		}
	}
	n := 1
	if g.chance(g.t.MultiRecipient) {
		n = 2 + g.rng.IntN(5)
	}
	rcpts := map[string]bool{}
	var list []string
	for len(list) < n {
		r := g.recipient()
		if !rcpts[r] {
			rcpts[r] = true
			list = append(list, r)
		}
	}
	status := g.status()
	nThreats := 1 + g.rng.IntN(2)
	var threats []threat
	for range nThreats {
		at := msgTime.Add(-time.Duration(g.rng.Int64N(int64(time.Minute))))
		if retro {
			at = created
		}
		threats = append(threats, g.threat(at.Truncate(time.Millisecond), status))
	}
	m := msgFields{
		guid: g.guid(), qid: "r" + g.word(13), msgID: "<" + g.word(12) + "@mailer." + strings.ToLower(g.word(5)) + ".test>",
		sender: g.hexN(32) + "@" + strings.ToLower(g.word(6)) + ".test", senderIP: g.ip(), from: users[g.rng.IntN(len(users))] + "@" + strings.ToLower(g.word(5)) + ".test",
		subject: subjects[g.rng.IntN(len(subjects))], size: 2000 + g.rng.IntN(200000), to: list, threats: threats,
		scores: [4]int{g.rng.IntN(101), g.rng.IntN(101), g.rng.IntN(101), g.rng.IntN(101)},
	}
	typ := TypeMessagesBlocked
	if delivered {
		typ = TypeMessagesDelivered
	}
	var out []*Event
	for _, r := range list {
		g.b = g.renderMessage(g.b[:0], typ, m, r, msgTime)
		ev := &Event{Type: typ, Created: created, Own: msgTime, Identity: typ + "/" + m.guid + "/" + r, Status: status, Raw: append([]byte(nil), g.b...)}
		ev.Indexed = created.Add(g.lag())
		for _, th := range threats {
			ev.ThreatTypes = append(ev.ThreatTypes, th.kind)
		}
		out = append(out, ev)
	}
	return out
}

type msgFields struct {
	guid, qid, msgID, sender, senderIP, from, subject string
	size                                              int
	to                                                []string
	threats                                           []threat
	scores                                            [4]int
}

func (g *gen) renderMessage(b []byte, typ string, m msgFields, rcpt string, at time.Time) []byte {
	w := jw{b: b}
	w.open()
	w.str("GUID", m.guid)
	if g.chance(0.5) {
		w.str("id", g.uuid()) // present in some payloads only
	}
	w.str("QID", m.qid)
	w.str("messageID", m.msgID)
	w.str("messageTime", g.stamp(at))
	w.str("sender", m.sender)
	w.str("senderIP", m.senderIP)
	if len(m.to) == 1 && g.chance(0.1) {
		w.str("recipient", rcpt) // drift: a string instead of an array
	} else {
		w.strs("recipient", []string{rcpt})
	}
	w.strs("toAddresses", m.to)
	w.strs("fromAddress", []string{m.from})
	w.raw("ccAddresses", "null")
	w.raw("replyToAddress", "null")
	w.str("headerFrom", `"`+strings.Split(m.from, "@")[0]+`" <`+m.from+`>`)
	w.str("headerTo", "<"+strings.Join(m.to, ">, <")+">")
	w.str("headerCC", "")
	w.str("subject", m.subject)
	w.raw("xmailer", "null")
	w.num("messageSize", m.size)
	w.num("spamScore", m.scores[0])
	w.num("phishScore", m.scores[1])
	w.num("malwareScore", m.scores[2])
	w.num("impostorScore", m.scores[3])
	if g.chance(0.05) {
		w.str("clusterId", "acme_hosted")
	} else {
		w.str("cluster", "acme_hosted")
	}
	k := 1 + g.rng.IntN(4)
	w.strs("modulesRun", modules[:k])
	w.strs("policyRoutes", []string{"default_inbound"})
	if typ == TypeMessagesBlocked {
		f := folders[g.rng.IntN(len(folders))]
		w.str("quarantineFolder", f)
		w.str("quarantineRule", strings.ToLower(f))
	}
	switch g.rng.IntN(5) {
	case 0:
		w.raw("completelyRewritten", "true")
	case 1:
		w.raw("completelyRewritten", "false")
	case 2:
		w.str("completelyRewritten", "true")
	case 3:
		w.str("completelyRewritten", "false")
	default:
		w.str("completelyRewritten", "na")
	}
	w.key("messageParts")
	w.b = append(w.b, '[')
	for i := range 1 + g.rng.IntN(2) {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		pw := jw{b: w.b}
		pw.open()
		pw.str("disposition", []string{"inline", "attached"}[i%2])
		pw.str("filename", []string{"text.html", "invoice.pdf", "archive.zip"}[g.rng.IntN(3)])
		ct := partTypes[g.rng.IntN(len(partTypes))]
		pw.str("contentType", ct)
		pw.str("oContentType", ct)
		pw.str("md5", g.hexN(32))
		pw.str("sha256", g.hexN(64))
		pw.str("sandboxStatus", sandboxSts[g.rng.IntN(len(sandboxSts))])
		w.b = pw.close()
	}
	w.b = append(w.b, ']')
	w.key("threatsInfoMap")
	w.b = append(w.b, '[')
	for i, th := range m.threats {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		tw := jw{b: w.b}
		tw.open()
		if g.chance(0.2) {
			tw.str("threatId", th.id) // key case drift
		} else {
			tw.str("threatID", th.id)
		}
		tw.str("threat", th.value)
		tw.str("threatType", th.kind)
		tw.str("classification", th.class)
		tw.str("threatStatus", th.status)
		tw.str("threatTime", g.stamp(th.at))
		campaignKey := "campaignID"
		if g.chance(0.2) {
			campaignKey = "campaignId"
		}
		if th.campaign == "" {
			tw.raw(campaignKey, "null")
		} else {
			tw.str(campaignKey, th.campaign)
		}
		tw.str("threatUrl", th.url)
		w.b = tw.close()
	}
	w.b = append(w.b, ']')
	return w.close()
}

// click returns one click event.
func (g *gen) click() *Event {
	created := g.when()
	clickTime := created
	status := g.status()
	th := g.threat(created.Add(-time.Duration(g.rng.Int64N(int64(2*time.Hour)))).Truncate(time.Millisecond), status)
	// A click is on a URL, whatever threat the message carried.
	th.kind, th.value = "url", "https://login."+strings.ToLower(g.word(6))+"-phish.test/"+g.word(3)
	if g.chance(g.t.Campaigns) {
		th = g.campaign(g.rng.IntN(3), status)
	}
	if g.chance(g.t.Retroactive) {
		// The URL was classified after the click: the event is created
		// with the verdict and carries the old click time.
		clickTime = created.Add(-time.Hour - time.Duration(g.rng.Int64N(int64(72*time.Hour)))).Truncate(time.Millisecond)
		th.at = created
	}
	typ := TypeClicksPermitted
	if g.rng.IntN(10) < 3 {
		typ = TypeClicksBlocked
	}
	id := g.uuid()
	w := jw{b: g.b[:0]}
	w.open()
	w.str("id", id)
	w.str("GUID", g.guid())
	w.str("messageID", "<"+g.word(12)+"@mailer.test>")
	w.str("clickTime", g.stamp(clickTime))
	w.str("clickIP", g.ip())
	w.str("userAgent", agents[g.rng.IntN(len(agents))])
	w.str("url", th.value)
	if g.chance(0.1) {
		w.strs("recipient", []string{g.recipient()}) // drift: an array
	} else {
		w.str("recipient", g.recipient())
	}
	w.str("sender", g.hexN(32)+"@"+strings.ToLower(g.word(6))+".test")
	w.str("senderIP", g.ip())
	w.str("classification", th.class)
	if g.chance(0.2) {
		w.str("threatId", th.id)
	} else {
		w.str("threatID", th.id)
	}
	w.str("threatTime", g.stamp(th.at))
	w.str("threatStatus", status)
	if th.campaign == "" {
		w.raw("campaignID", "null")
	} else {
		w.str("campaignID", th.campaign)
	}
	w.str("threatURL", th.url)
	g.b = w.close()
	return &Event{Type: typ, Created: created, Indexed: created.Add(g.lag()), Own: clickTime, Identity: typ + "/" + id, Status: status, ThreatTypes: []string{th.kind}, Raw: append([]byte(nil), g.b...)}
}

// campaign returns campaign threat i (0 phishing, 1 malware, 2 spam),
// with the click's status.
func (g *gen) campaign(i int, status string) threat {
	if g.campaigns == nil {
		for k := range 3 {
			th := g.threat(g.t.From.Truncate(time.Millisecond), "active")
			th.kind, th.class = "url", families[k]
			th.value = "https://login." + strings.ToLower(g.word(6)) + "-campaign.test/" + g.word(3)
			g.campaigns = append(g.campaigns, th)
		}
	}
	th := g.campaigns[i]
	th.status = status
	return th
}

// stamp writes a time as TAP's payloads mostly do, with milliseconds and
// "Z". With TimeForms also the other ways they have: a whole second
// sometimes without a fraction, and now and then a numeric zone. The form
// depends only on the instant, so an event always looks the same.
func (g *gen) stamp(t time.Time) string {
	t = t.UTC()
	if !g.t.TimeForms {
		return t.Format("2006-01-02T15:04:05.000Z")
	}
	switch ms := t.Nanosecond() / int(time.Millisecond); {
	case t.Nanosecond() == 0 && t.Second()%4 != 1:
		return t.Format("2006-01-02T15:04:05Z")
	case ms%16 == 7:
		return t.Format("2006-01-02T15:04:05.000+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000Z")
}

// jw appends one JSON object.
type jw struct {
	b     []byte
	count int
}

func (w *jw) open() { w.b = append(w.b, '{') }

func (w *jw) close() []byte { return append(w.b, '}') }

func (w *jw) key(k string) {
	if w.count > 0 {
		w.b = append(w.b, ',')
	}
	w.count++
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *jw) str(k, v string) {
	w.key(k)
	w.b = appendJSONString(w.b, v)
}

func (w *jw) raw(k, v string) {
	w.key(k)
	w.b = append(w.b, v...)
}

func (w *jw) num(k string, v int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

func (w *jw) strs(k string, vs []string) {
	w.key(k)
	w.b = append(w.b, '[')
	for i, v := range vs {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = appendJSONString(w.b, v)
	}
	w.b = append(w.b, ']')
}

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c == '\n':
			b = append(b, '\\', 'n')
			i++
		case c < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, c)...)
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			b = append(b, s[i:i+n]...)
			i += n
		}
	}
	return append(b, '"')
}
