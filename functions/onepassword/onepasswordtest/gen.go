package onepasswordtest

// Synthetic event generation.
//
// A generated event is a pure function of (account seed, stream, sequence
// number, timestamp): nothing is stored per event, so a backlog of millions
// costs a few bytes of bookkeeping. The encoders below append pre-escaped
// fragments to a byte slice and never call fmt or build maps, because the
// simulator must serve 1000-event pages far faster than any client can
// consume them (benchmarks of the client would otherwise measure us).

import (
	"strconv"
)

// Stream names as used in URL paths and token features.
const (
	StreamAuditEvents    = "auditevents"
	StreamSignInAttempts = "signinattempts"
	StreamItemUsages     = "itemusages"
)

type streamID uint8

const (
	audit streamID = iota
	signin
	itemusage
	numStreams
)

var streamNames = [numStreams]string{StreamAuditEvents, StreamSignInAttempts, StreamItemUsages}

// streamSalt separates the pseudo-random sequences of the three streams so
// that sequence 7 of auditevents and sequence 7 of itemusages look unrelated.
var streamSalt = [numStreams]uint64{0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3}

// Timestamp precision per stream, in decimal fraction digits, following the
// documented examples: audit events carry nanoseconds, sign-in attempts whole
// seconds, item usages milliseconds. Filtering uses the printed value, so a
// client sees exactly what the server compared against.
var streamPrecision = [numStreams]int{9, 0, 3}

func parseStream(name string) (streamID, bool) {
	for i, n := range streamNames {
		if n == name {
			return streamID(i), true
		}
	}
	return 0, false
}

// mix is the splitmix64 finalizer. It is a bijection on uint64, which is what
// makes generated uuids unique within a stream: the first 64 bits of the uuid
// are mix(seq ^ key), distinct for distinct seq.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// rng is splitmix64; small, fast and good enough for picking table entries.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix(r.s)
}

// n returns a value in [0, k).
func (r *rng) n(k int) int { return int(r.next() % uint64(k)) }

// oneIn reports true with probability 1/k.
func (r *rng) oneIn(k int) bool { return r.next()%uint64(k) == 0 }

const (
	upperB32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lowerB32 = "abcdefghijklmnopqrstuvwxyz234567"
)

// appendID appends a 26-character base32 identifier holding the 128 bits
// hi:lo (plus two zero bits), the shape of 1Password uuids.
func appendID(b []byte, hi, lo uint64, alphabet string) []byte {
	for i := 0; i < 12; i++ { // 60 bits of hi
		b = append(b, alphabet[(hi>>(59-5*i))&31])
	}
	b = append(b, alphabet[((hi&15)<<1)|(lo>>63)])
	for i := 0; i < 12; i++ { // 60 of the remaining 63 bits of lo
		b = append(b, alphabet[(lo>>(58-5*i))&31])
	}
	return append(b, alphabet[(lo&7)<<2])
}

func idString(hi, lo uint64, alphabet string) string {
	var a [26]byte
	return string(appendID(a[:0], hi, lo, alphabet))
}

// floorDiv is integer division rounding towards negative infinity, so that
// instants before 1970 still format correctly.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// truncNanos truncates a unix-nanosecond instant to the stream's printed
// precision.
func truncNanos(ns int64, digits int) int64 {
	unit := int64(1)
	for i := digits; i < 9; i++ {
		unit *= 10
	}
	return floorDiv(ns, unit) * unit
}

// appendTime appends ns (unix nanoseconds, UTC) in RFC 3339 with at most
// digits fraction digits and trailing zeros trimmed, the same text
// time.RFC3339Nano produces for the truncated instant. It exists because
// time.Time.AppendFormat dominates the cost of generating an event.
func appendTime(b []byte, ns int64, digits int) []byte {
	sec := floorDiv(ns, 1e9)
	frac := ns - sec*1e9
	days := floorDiv(sec, 86400)
	sod := sec - days*86400

	// Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}

	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, sod/3600)
	b = append(b, ':')
	b = append2(b, sod/60%60)
	b = append(b, ':')
	b = append2(b, sod%60)
	if digits > 0 {
		for i := digits; i < 9; i++ {
			frac /= 10
		}
		n := digits
		for n > 0 && frac%10 == 0 {
			frac /= 10
			n--
		}
		if n > 0 {
			b = append(b, '.')
			var tmp [9]byte
			for i := n - 1; i >= 0; i-- {
				tmp[i] = byte('0' + frac%10)
				frac /= 10
			}
			b = append(b, tmp[:n]...)
		}
	}
	return append(b, 'Z')
}

func append2(b []byte, v int64) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func append4(b []byte, v int64) []byte {
	if v < 0 || v > 9999 { // outside RFC 3339; never produced by sane tests
		return strconv.AppendInt(b, v, 10)
	}
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// appendIP appends an address from the documentation ranges (RFC 5737 and
// RFC 3849), so synthetic data never names a real host.
func appendIP(b []byte, r *rng) []byte {
	v := r.next()
	if v%29 == 0 {
		b = append(b, "2001:db8:"...)
		b = strconv.AppendUint(b, (v>>8)&0xffff, 16)
		b = append(b, "::"...)
		return strconv.AppendUint(b, (v>>24)&0xffff, 16)
	}
	switch (v >> 8) % 3 {
	case 0:
		b = append(b, "192.0.2."...)
	case 1:
		b = append(b, "198.51.100."...)
	default:
		b = append(b, "203.0.113."...)
	}
	return strconv.AppendUint(b, 1+(v>>16)%254, 10)
}

// Static, pre-escaped JSON fragments. Names are written as Go's
// encoding/json (1Password's server language) would escape them: UTF-8 kept
// as is, '&' '<' '>' as \u0026 \u003c \u003e. A few are non-ASCII on purpose
// so ordinary runs exercise the unicode paths of a client.
var personNames = []string{
	"Dana Ops", "Lee Newhire", "Sam Field", "Alex Morgan", "Jordan Blake", "Riley Chen",
	"Casey Patel", "Morgan Diaz", "Taylor Kim", "Jamie Fox", "Avery Stone", "Quinn Hart",
	"Robin Lake", "Drew Park", "Skyler Reed", "Parker Lane", "Reese Cole", "Hayden Cruz",
	"Emerson Ward", "Rowan Price", "Sasha Ivanova", "Nico Rossi", "Priya Nair", "Omar Haddad",
	"Ingrid Berg", "Kenji Sato", "Lucia Gomez", "Mateo Silva", "Aisha Bello", "Tomas Novak",
	"Zo\u00eb \u00c5ngstr\u00f6m", // Zoë Ångström
	"\u674e\u96f7",                // 李雷
	"Sam \U0001f680 Field",        // emoji, outside the BMP
	"Jos\u00e9 N\u00fa\u00f1ez",   // José Núñez
	"Ops \\u0026 Security Bot",    // already JSON-escaped '&', as encoding/json writes it
}

var personEmails = []string{
	"dana.ops", "lee.newhire", "sam.field", "alex.morgan", "jordan.blake", "riley.chen",
	"casey.patel", "morgan.diaz", "taylor.kim", "jamie.fox", "avery.stone", "quinn.hart",
	"robin.lake", "drew.park", "skyler.reed", "parker.lane", "reese.cole", "hayden.cruz",
	"emerson.ward", "rowan.price", "sasha.ivanova", "nico.rossi", "priya.nair", "omar.haddad",
	"ingrid.berg", "kenji.sato", "lucia.gomez", "mateo.silva", "aisha.bello", "tomas.novak",
	"zoe.angstrom", "li.lei", "sam.rocket", "jose.nunez", "secops-bot",
}

// location is a pre-rendered `"location":{...}` member value.
var locations = []string{
	`{"country":"Germany","region":"Hesse","city":"Frankfurt","latitude":50.1109,"longitude":8.6821}`,
	`{"country":"Canada","region":"Ontario","city":"Toronto","latitude":43.6532,"longitude":-79.3832}`,
	`{"country":"Netherlands","region":"North Holland","city":"Amsterdam","latitude":52.3676,"longitude":4.9041}`,
	`{"country":"United States","region":"California","city":"San Francisco","latitude":37.7749,"longitude":-122.4194}`,
	`{"country":"United States","region":"New York","city":"New York","latitude":40.7128,"longitude":-74.006}`,
	`{"country":"United Kingdom","region":"England","city":"London","latitude":51.5072,"longitude":-0.1276}`,
	`{"country":"Japan","region":"Tokyo","city":"Tokyo","latitude":35.6762,"longitude":139.6503}`,
	`{"country":"France","region":"Île-de-France","city":"Paris","latitude":48.8566,"longitude":2.3522}`,
	`{"country":"Switzerland","region":"Zurich","city":"Zürich","latitude":47.3769,"longitude":8.5417}`,
	`{"country":"Brazil","region":"São Paulo","city":"São Paulo","latitude":-23.5558,"longitude":-46.6396}`,
	`{"country":"Canada","region":"Quebec","city":"Montréal","latitude":45.5019,"longitude":-73.5674}`,
	`{"country":"Australia","region":"","city":"","latitude":-25.2744,"longitude":133.7751}`,
}

// commonLocations is how many leading entries of locations are ASCII-only.
const commonLocations = 7

// countryCodes matches locations index by index (ISO 3166 alpha-2).
var countryCodes = []string{"DE", "CA", "NL", "US", "US", "GB", "JP", "FR", "CH", "BR", "CA", "AU"}

// clientPrefixes are `"client":{...` up to and including `"ip_address":"`.
// The first commonClients entries have no empty strings.
const commonClients = 6

var clientPrefixes = []string{
	`{"app_name":"1Password for Web","app_version":"1901","platform_name":"Firefox","platform_version":"123.0","os_name":"Windows","os_version":"10.0","ip_address":"`,
	`{"app_name":"1Password Browser Extension","app_version":"20250","platform_name":"Chrome","platform_version":"122.0","os_name":"MacOSX","os_version":"14.3","ip_address":"`,
	`{"app_name":"1Password for Mac","app_version":"81004003","platform_name":"Apple Inc.","platform_version":"MacBookPro18,3","os_name":"MacOSX","os_version":"14.4.1","ip_address":"`,
	`{"app_name":"1Password for Windows","app_version":"81004012","platform_name":"Microsoft Corporation","platform_version":"Surface Laptop 5","os_name":"Windows","os_version":"10.0.22631","ip_address":"`,
	`{"app_name":"1Password for iOS","app_version":"81004003","platform_name":"Apple","platform_version":"iPhone15,2","os_name":"iOS","os_version":"17.4","ip_address":"`,
	`{"app_name":"1Password for Android","app_version":"81004001","platform_name":"Google","platform_version":"Pixel 8","os_name":"Android","os_version":"14","ip_address":"`,
	`{"app_name":"1Password CLI","app_version":"2250001","platform_name":"","platform_version":"","os_name":"linux","os_version":"6.5.0","ip_address":"`,
	`{"app_name":"1Password SCIM Bridge","app_version":"2090300","platform_name":"Go","platform_version":"go1.22.1","os_name":"Linux","os_version":"","ip_address":"`,
}

type auxKind uint8

const (
	auxNone   auxKind = iota
	auxUser           // aux_id, aux_uuid, aux_details (a user), aux_info
	auxDevice         // aux_id (device id), aux_uuid (device), aux_info
	auxVault          // aux_id (permissions bitmask), aux_uuid (vault)
	auxInfo           // aux_info only
)

type auditAction struct {
	action, objectType string
	objectIsUser       bool
	objectLower        bool // vault/item uuids are lowercase in 1Password data
	aux                auxKind
}

var auditActions = []auditAction{
	{"join", "gm", false, false, auxUser},
	{"leave", "gm", false, false, auxUser},
	{"create", "item", false, true, auxVault},
	{"update", "item", false, true, auxVault},
	{"delete", "item", false, true, auxVault},
	{"export", "items", false, true, auxVault},
	{"view", "itemhist", false, true, auxVault},
	{"create", "vault", false, true, auxNone},
	{"grant", "vault", false, true, auxUser},
	{"revoke", "vault", false, true, auxUser},
	{"create", "user", true, false, auxNone},
	{"suspend", "user", true, false, auxNone},
	{"reactive", "user", true, false, auxNone},
	{"enblmfa", "user", true, false, auxInfo},
	{"disblmfa", "user", true, false, auxInfo},
	{"create", "invite", false, false, auxInfo},
	{"create", "device", false, true, auxDevice},
	{"unlink", "device", false, true, auxDevice},
	{"updatfw", "account", false, false, auxInfo},
	{"enblsso", "sso", false, false, auxNone},
	{"create", "satoken", false, false, auxInfo},
	{"create", "cred", false, true, auxDevice},
	{"view", "report", false, false, auxInfo},
	{"update", "template", false, true, auxNone},
	{"expire", "ssotkn", false, false, auxNone},
	{"unknown", "mngdacc", false, false, auxInfo},
}

var auxInfos = []string{"A", "R", "M", "manager", "allow-all", "Ubuntu 22.04", "", "TOTP"}

type signinKind struct{ category, typ, detail string }

// signinKinds is weighted by repetition: most sign-ins succeed. detail says
// what details.value holds: "" → details is null, "country", "continent", "ip".
var signinKinds = []signinKind{
	{"success", "credentials_ok", ""}, {"success", "credentials_ok", ""}, {"success", "credentials_ok", ""},
	{"success", "credentials_ok", ""}, {"success", "mfa_ok", ""}, {"success", "mfa_ok", ""},
	{"success", "federated", ""}, {"success", "federated", ""},
	{"credentials_failed", "password_secret_bad", ""}, {"credentials_failed", "password_secret_bad", ""},
	{"mfa_failed", "totp_bad", ""}, {"mfa_failed", "totp_timeout", ""}, {"mfa_failed", "mfa_missing", ""},
	{"mfa_failed", "u2f_bad", ""}, {"mfa_failed", "duo_timeout", ""},
	{"sso_failed", "non_sso_user", ""}, {"sso_failed", "sso_user_mismatch", ""},
	{"modern_version_failed", "modern_version_old", ""},
	{"firewall_failed", "country_blocked", "country"}, {"firewall_failed", "continent_blocked", "continent"},
	{"firewall_failed", "ip_blocked", "ip"}, {"firewall_failed", "anonymous_blocked", "ip"},
	{"firewall_reported_success", "country_blocked", "country"},
}

var continents = []string{"Europe", "Asia", "Africa", "South America", "North America", "Oceania"}

var itemActions = []string{
	"fill", "fill", "fill", "reveal", "reveal", "secure-copy", "secure-copy", "export", "share",
	"enter-item-edit-mode", "select-sso-provider", "server-create", "server-update", "server-fetch",
	"server-fetch", "other",
}

const (
	numUsers  = 64
	numVaults = 12
	numItems  = 4096
)

// generator holds one account's pre-rendered fragments: its users, vaults
// and uuid keys. Immutable after construction, so it is shared freely by
// concurrent requests.
type generator struct {
	seed        uint64
	accountUUID string
	users       [numUsers][]byte // `{"uuid":...,"name":...,"email":...}` (user_type sometimes)
	userUUIDs   [numUsers]string
	vaults      [numVaults]string
	keys        [numStreams][2]uint64
}

func newGenerator(seed int64, accountUUID string) *generator {
	g := &generator{seed: uint64(seed), accountUUID: accountUUID}
	r := rng{s: mix(uint64(seed) ^ 0x5ca1ab1e)}
	for i := range g.users {
		hi, lo := r.next(), r.next()
		g.userUUIDs[i] = idString(hi, lo, upperB32)
		// Most users come from the ASCII part of the table; the last five
		// entries (unicode, emoji, escaped '&') appear at a low rate.
		p := r.n(len(personNames) - 5)
		if r.oneIn(9) {
			p = len(personNames) - 5 + r.n(5)
		}
		var b []byte
		b = append(b, `{"uuid":"`...)
		b = append(b, g.userUUIDs[i]...)
		b = append(b, `","name":"`...)
		b = append(b, personNames[p]...)
		b = append(b, `","email":"`...)
		if i%41 != 40 { // one user in the table has an empty email
			b = append(b, personEmails[p]...)
			if i >= len(personEmails) {
				b = append(b, '.')
				b = strconv.AppendInt(b, int64(i), 10)
			}
			b = append(b, "@example.org"...)
		}
		b = append(b, '"')
		if r.oneIn(3) {
			b = append(b, `,"user_type":"user"`...)
		}
		g.users[i] = append(b, '}')
	}
	for i := range g.vaults {
		g.vaults[i] = idString(r.next(), r.next(), lowerB32)
	}
	for s := range g.keys {
		g.keys[s][0] = mix(uint64(seed) ^ streamSalt[s])
		g.keys[s][1] = mix(g.keys[s][0] ^ 0x2545f4914f6cdd1d)
	}
	return g
}

// idParts returns the 128 bits of the uuid of event seq; see mix for why
// they are unique within a stream.
func (g *generator) idParts(s streamID, seq uint64) (hi, lo uint64) {
	k := g.keys[s]
	return mix(seq ^ k[0]), mix(seq + k[1])
}

func (g *generator) eventID(s streamID, seq uint64) string {
	hi, lo := g.idParts(s, seq)
	return idString(hi, lo, upperB32)
}

// appendEvent appends the JSON of generated event seq with timestamp ts
// (unix nanoseconds; the caller has already truncated it to the stream
// precision).
func (g *generator) appendEvent(b []byte, s streamID, seq uint64, ts int64) []byte {
	hi, lo := g.idParts(s, seq)
	r := rng{s: hi ^ (lo << 1)}
	b = append(b, `{"uuid":"`...)
	b = appendID(b, hi, lo, upperB32)
	switch s {
	case audit:
		return g.appendAudit(b, &r, ts)
	case signin:
		return g.appendSignin(b, &r, ts)
	default:
		return g.appendItemUsage(b, &r, ts)
	}
}

func (g *generator) appendAudit(b []byte, r *rng, ts int64) []byte {
	b = append(b, `","timestamp":"`...)
	b = appendTime(b, ts, 9)
	actor := r.n(numUsers)
	external := r.oneIn(37)
	b = append(b, `","actor_uuid":"`...)
	b = append(b, g.userUUIDs[actor]...)
	b = append(b, `","actor_details":`...)
	b = append(b, g.users[actor]...)
	if external {
		b = append(b, `,"actor_type":"external_user","actor_account_uuid":"`...)
		b = appendID(b, r.next(), r.next(), upperB32)
		b = append(b, '"')
	} else {
		b = append(b, `,"actor_type":"user"`...)
	}
	b = append(b, `,"account_uuid":"`...)
	b = append(b, g.accountUUID...)
	a := &auditActions[r.n(len(auditActions))]
	b = append(b, `","action":"`...)
	b = append(b, a.action...)
	b = append(b, `","object_type":"`...)
	b = append(b, a.objectType...)
	b = append(b, `","object_uuid":"`...)
	switch {
	case a.objectIsUser:
		obj := r.n(numUsers)
		b = append(b, g.userUUIDs[obj]...)
		b = append(b, `","object_details":`...)
		if r.oneIn(23) {
			b = append(b, `{}`...) // an empty object, seen when the user was purged
		} else {
			b = append(b, g.users[obj]...)
		}
	case a.objectType == "vault":
		b = append(b, g.vaults[r.n(numVaults)]...)
		b = append(b, '"')
	case a.objectLower:
		b = appendID(b, r.next(), r.next(), lowerB32)
		b = append(b, '"')
	default:
		b = appendID(b, r.next(), r.next(), upperB32)
		b = append(b, '"')
	}
	switch a.aux {
	case auxUser:
		aux := r.n(numUsers)
		b = appendAuxID(b, r)
		b = append(b, `,"aux_uuid":"`...)
		b = append(b, g.userUUIDs[aux]...)
		b = append(b, `","aux_details":`...)
		b = append(b, g.users[aux]...)
		b = appendAuxInfo(b, r)
	case auxDevice:
		b = appendAuxID(b, r)
		b = append(b, `,"aux_uuid":"`...)
		b = appendID(b, r.next(), r.next(), lowerB32)
		b = append(b, '"')
		b = appendAuxInfo(b, r)
	case auxVault:
		b = appendAuxID(b, r)
		b = append(b, `,"aux_uuid":"`...)
		b = append(b, g.vaults[r.n(numVaults)]...)
		b = append(b, '"')
	case auxInfo:
		b = appendAuxInfo(b, r)
	}
	b = append(b, `,"session":{"uuid":"`...)
	b = appendID(b, r.next(), r.next(), upperB32)
	b = append(b, `","login_time":"`...)
	login := truncNanos(ts-int64(r.n(7200))*1e9-int64(r.n(1000))*1e6, 3)
	b = appendTime(b, login, 3)
	b = append(b, `","device_uuid":"`...)
	b = appendID(b, r.next(), r.next(), lowerB32)
	b = append(b, `","ip":"`...)
	b = appendIP(b, r)
	b = append(b, `"},"location":`...)
	b = appendLocation(b, r)
	return append(b, '}')
}

// appendAuxID writes aux_id, which is null at a low rate: the field is
// documented as optional and real data carries explicit nulls.
func appendAuxID(b []byte, r *rng) []byte {
	v := r.next()
	if v%13 == 0 {
		return append(b, `,"aux_id":null`...)
	}
	b = append(b, `,"aux_id":`...)
	return strconv.AppendUint(b, 1+(v>>8)%9999999, 10)
}

func appendAuxInfo(b []byte, r *rng) []byte {
	b = append(b, `,"aux_info":"`...)
	b = append(b, auxInfos[r.n(len(auxInfos))]...)
	return append(b, '"')
}

// appendLocation writes a location object; an empty object at a low rate,
// as for addresses the geolocation database does not know,
// or null at an even lower rate.
func appendLocation(b []byte, r *rng) []byte {
	v := r.next()
	switch {
	case v%31 == 0:
		return append(b, `{}`...)
	case v%61 == 1:
		return append(b, `null`...)
	}
	return append(b, locations[pickLocation(v>>8)]...)
}

// pickLocation draws a location index. The first commonLocations entries
// are plain ASCII; the rest (accented names, an empty region) come up about
// one time in sixteen, so unicode and empty strings stay a low-rate case.
func pickLocation(v uint64) int {
	if v%16 == 0 {
		return commonLocations + int((v>>4)%uint64(len(locations)-commonLocations))
	}
	return int((v >> 4) % commonLocations)
}

// appendClient writes a client object; the CLI and SCIM bridge clients,
// whose objects carry empty strings, are the rare ones.
func appendClient(b []byte, r *rng) []byte {
	v := r.next()
	i := int(v % commonClients)
	if v%12 == 0 {
		i = commonClients + int((v>>8)%uint64(len(clientPrefixes)-commonClients))
	}
	b = append(b, clientPrefixes[i]...)
	b = appendIP(b, r)
	return append(b, `"}`...)
}

func (g *generator) appendSignin(b []byte, r *rng, ts int64) []byte {
	b = append(b, `","session_uuid":"`...)
	b = appendID(b, r.next(), r.next(), upperB32)
	b = append(b, `","timestamp":"`...)
	b = appendTime(b, ts, 0)
	k := &signinKinds[r.n(len(signinKinds))]
	loc := pickLocation(r.next())
	b = append(b, `","category":"`...)
	b = append(b, k.category...)
	b = append(b, `","type":"`...)
	b = append(b, k.typ...)
	b = append(b, `","country":"`...)
	b = append(b, countryCodes[loc]...)
	b = append(b, `","details":`...)
	switch k.detail {
	case "":
		b = append(b, `null`...)
	case "country":
		b = append(b, `{"value":"`...)
		b = append(b, countryCodes[loc]...)
		b = append(b, `"}`...)
	case "continent":
		b = append(b, `{"value":"`...)
		b = append(b, continents[r.n(len(continents))]...)
		b = append(b, `"}`...)
	default:
		if r.oneIn(5) {
			b = append(b, `{"value":""}`...) // empty string inside an object
		} else {
			b = append(b, `{"value":"`...)
			b = appendIP(b, r)
			b = append(b, `"}`...)
		}
	}
	b = append(b, `,"target_user":`...)
	b = append(b, g.users[r.n(numUsers)]...)
	b = append(b, `,"client":`...)
	b = appendClient(b, r)
	b = append(b, `,"location":`...)
	if r.oneIn(31) {
		b = append(b, `{}`...)
	} else {
		b = append(b, locations[loc]...)
	}
	return append(b, '}')
}

func (g *generator) appendItemUsage(b []byte, r *rng, ts int64) []byte {
	b = append(b, `","timestamp":"`...)
	b = appendTime(b, ts, 3)
	b = append(b, `","used_version":`...)
	b = strconv.AppendInt(b, int64(1+r.n(20)), 10)
	vault := r.n(numVaults)
	b = append(b, `,"vault_uuid":"`...)
	b = append(b, g.vaults[vault]...)
	// Items are drawn from a fixed pool per vault so the same item recurs,
	// as it does in real usage data.
	item := uint64(vault*numItems + r.n(numItems))
	b = append(b, `","item_uuid":"`...)
	b = appendID(b, mix(g.seed^item^0x1f83d9abfb41bd6b), mix(item+0x5be0cd19137e2179), lowerB32)
	b = append(b, `","action":"`...)
	b = append(b, itemActions[r.n(len(itemActions))]...)
	b = append(b, `","user":`...)
	b = append(b, g.users[r.n(numUsers)]...)
	b = append(b, `,"client":`...)
	b = appendClient(b, r)
	b = append(b, `,"location":`...)
	b = appendLocation(b, r)
	return append(b, '}')
}
