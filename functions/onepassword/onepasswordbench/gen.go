// Package onepasswordbench serves realistic 1Password Events API pages from
// a separate process (opbenchd), for the whole-process benchmarks of
// localrun and the Lambda function. It is not the simulator
// (onepasswordtest): it has no faults and no rate limits, and its events are
// shaped like a large real tenant's, with a documented size and nesting
// distribution, so that a benchmark measures what a customer's catch-up
// costs rather than what the simulator's smaller events cost.
//
// # The event distribution
//
// Every event is a pure function of (seed, stream, index): the same
// arguments serve the same bytes, in any process, in any order. The three
// streams get a third of the events each (a tenant's sign-ins and item
// usage usually outnumber its audit events; equal thirds keep the streams'
// costs visible). Events are compact JSON, as 1Password's Go servers write
// it (UTF-8 kept, no spaces), with the members of the published v2 schemas:
//
//   - audit events: uuid, timestamp (nanoseconds), actor_uuid,
//     actor_details {uuid, name, email, user_type}, actor_type (3 % MSP
//     "external_user" with actor_account_uuid), account_uuid, action,
//     object_type, object_uuid; for user objects (1 in 6) object_details
//     {uuid, name, email, user_type}; aux_id, aux_uuid, aux_details (a
//     user, 1 in 5), aux_info by action; session {uuid, login_time,
//     device_uuid, ip}; location {country, region, city, latitude,
//     longitude}.
//   - sign-in attempts: uuid, session_uuid, timestamp (seconds), category,
//     type (76 % success), country, details (null unless the attempt was
//     refused by a firewall rule, 6 %, then {value}), target_user {uuid,
//     name, email, user_type}, client {app_name, app_version,
//     platform_name, platform_version, os_name, os_version, ip_address},
//     location.
//   - item usages: uuid, timestamp (milliseconds), used_version,
//     vault_uuid, item_uuid, action, user {uuid, name, email, user_type},
//     client, location.
//
// Sign-ins and item usages carry account_uuid too (a v2 field).
//
// What varies, and how often: a tenant of 2 000 users whose display names
// run from 6 to 40 bytes (a quarter with a middle name, 4 % with accented,
// Greek or CJK letters) and whose e-mail addresses are first.last@ one of
// four company domains; 18 % of addresses are IPv6 (documentation prefix,
// up to 39 bytes); clients are drawn from twelve real app, platform and OS
// strings; locations from 40 cities with regions, 3 % an empty object (an
// address the geolocation database does not know) and 2 % with empty
// region and city strings; 94 % of sign-ins carry "details":null, so a
// third of all events need nulls stripped; 1 audit event in 10 carries a
// long aux_info (0.5 to 3 KB, a device description or note). The lines
// average about 785 bytes (audit 945, sign-ins and item usage 705), median
// 717, 99th percentile 2.8 KB, largest 3.9 KB, nested two levels deep with
// 15 to 30 members; Measure computes these figures and the benchmarks
// report the mean they served.
//
// Events of a stream are one per Step on average (0.3 s by default: about
// 290 000 events a day per stream, a large tenant), each within its step
// at a pseudo-random offset, so timestamps never go backwards and sign-ins
// (second precision) often share one.
package onepasswordbench

import (
	"encoding/base64"
	"strconv"
	"time"
)

// Stream paths of the v2 API, in the order the generator numbers them.
var Streams = [3]string{"auditevents", "signinattempts", "itemusages"}

// Gen generates the events of one tenant.
type Gen struct {
	// Seed selects the tenant; Start is the time of event 0 of every
	// stream; Step the mean time between two events of a stream.
	Seed  uint64
	Start time.Time
	Step  time.Duration
	// PerStream is how many events each stream holds.
	PerStream int

	account string
	users   []user
}

type user struct {
	uuid string
	obj  []byte // {"uuid":…,"name":…,"email":…,"user_type":…}
}

const numUsers = 2000

// NewGen returns the generator of a tenant with total events spread over
// the three streams.
func NewGen(seed uint64, start time.Time, step time.Duration, total int) *Gen {
	g := &Gen{Seed: seed, Start: start, Step: step, PerStream: (total + 2) / 3}
	r := rng(mix(seed ^ 0x5eed))
	g.account = string(appendID(nil, &r, upper))
	for i := 0; i < numUsers; i++ {
		var u user
		u.uuid = string(appendID(nil, &r, upper))
		first := firstNames[r.n(len(firstNames))]
		last := lastNames[r.n(len(lastNames))]
		name, efirst, elast := first[0], first[1], last[1]
		if r.n(25) == 0 {
			n := nonASCIINames[r.n(len(nonASCIINames))]
			name, efirst, elast = n[0], n[1], n[2]
		} else {
			if r.n(4) == 0 {
				name += " " + middleNames[r.n(len(middleNames))]
			}
			name += " " + last[0]
		}
		b := append([]byte(`{"uuid":"`), u.uuid...)
		b = append(b, `","name":"`...)
		b = append(b, name...)
		b = append(b, `","email":"`...)
		b = append(b, efirst...)
		b = append(b, '.')
		b = append(b, elast...)
		if i%7 == 3 {
			b = strconv.AppendInt(b, int64(i%90+10), 10)
		}
		b = append(b, '@')
		b = append(b, domains[r.n(len(domains))]...)
		userType := "user"
		if r.n(40) == 0 {
			userType = "guest"
		}
		b = append(b, `","user_type":"`...)
		b = append(b, userType...)
		u.obj = append(b, `"}`...)
		g.users = append(g.users, u)
	}
	return g
}

// Len is the number of events of each stream.
func (g *Gen) Len() int { return g.PerStream }

// Time is the timestamp of event i of stream s, truncated to the stream's
// precision (nanoseconds, seconds, milliseconds).
func (g *Gen) Time(s, i int) time.Time {
	r := rng(mix(g.Seed ^ uint64(s)<<56 ^ uint64(i)*0x9e3779b97f4a7c15 ^ 0x71e))
	off := time.Duration(r.next() % uint64(g.Step))
	t := g.Start.Add(time.Duration(i)*g.Step + off)
	switch s {
	case 1:
		return t.Truncate(time.Second)
	case 2:
		return t.Truncate(time.Millisecond)
	}
	return t
}

// Index is the first event of stream s at or after t.
func (g *Gen) Index(s int, t time.Time) int {
	lo, hi := 0, g.PerStream
	for lo < hi {
		m := (lo + hi) / 2
		if g.Time(s, m).Before(t) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Append appends event i of stream s.
func (g *Gen) Append(b []byte, s, i int) []byte {
	r := rng(mix(g.Seed ^ uint64(s+1)<<60 ^ uint64(i)))
	b = append(b, `{"uuid":"`...)
	b = appendID(b, &r, upper)
	ts := g.Time(s, i)
	switch s {
	case 0:
		return g.audit(b, &r, ts)
	case 1:
		return g.signin(b, &r, ts)
	}
	return g.itemUsage(b, &r, ts)
}

func (g *Gen) audit(b []byte, r *rng, ts time.Time) []byte {
	b = append(b, `","timestamp":"`...)
	b = ts.AppendFormat(b, time.RFC3339Nano)
	actor := &g.users[r.n(numUsers)]
	b = append(b, `","actor_uuid":"`...)
	b = append(b, actor.uuid...)
	b = append(b, `","actor_details":`...)
	b = append(b, actor.obj...)
	if r.n(33) == 0 {
		b = append(b, `,"actor_type":"external_user","actor_account_uuid":"`...)
		b = appendID(b, r, upper)
		b = append(b, '"')
	} else {
		b = append(b, `,"actor_type":"user"`...)
	}
	b = append(b, `,"account_uuid":"`...)
	b = append(b, g.account...)
	a := &auditActions[r.n(len(auditActions))]
	b = append(b, `","action":"`...)
	b = append(b, a.action...)
	b = append(b, `","object_type":"`...)
	b = append(b, a.object...)
	b = append(b, `","object_uuid":"`...)
	if a.userObject {
		obj := &g.users[r.n(numUsers)]
		b = append(b, obj.uuid...)
		b = append(b, `","object_details":`...)
		b = append(b, obj.obj...)
	} else {
		b = appendID(b, r, lower)
		b = append(b, '"')
	}
	if a.aux != "" {
		b = append(b, `,"aux_id":`...)
		b = strconv.AppendUint(b, r.next()%90000000+1000, 10)
		b = append(b, `,"aux_uuid":"`...)
		if a.aux == "user" {
			aux := &g.users[r.n(numUsers)]
			b = append(b, aux.uuid...)
			b = append(b, `","aux_details":`...)
			b = append(b, aux.obj...)
		} else {
			b = appendID(b, r, lower)
			b = append(b, '"')
		}
		b = append(b, `,"aux_info":"`...)
		b = appendAuxInfo(b, r, a.aux)
		b = append(b, '"')
	}
	b = append(b, `,"session":{"uuid":"`...)
	b = appendID(b, r, upper)
	b = append(b, `","login_time":"`...)
	b = ts.Add(-time.Duration(r.next()%(8*3600e9))).Truncate(time.Millisecond).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","device_uuid":"`...)
	b = appendID(b, r, lower)
	b = append(b, `","ip":"`...)
	b = appendIP(b, r)
	b = append(b, `"},"location":`...)
	b = appendLocation(b, r)
	return append(b, '}')
}

func (g *Gen) signin(b []byte, r *rng, ts time.Time) []byte {
	b = append(b, `","session_uuid":"`...)
	b = appendID(b, r, upper)
	b = append(b, `","timestamp":"`...)
	b = ts.AppendFormat(b, time.RFC3339Nano)
	k := &signinKinds[r.n(len(signinKinds))]
	loc := &cities[r.n(len(cities))]
	b = append(b, `","category":"`...)
	b = append(b, k.category...)
	b = append(b, `","type":"`...)
	b = append(b, k.typ...)
	b = append(b, `","country":"`...)
	b = append(b, loc.code...)
	b = append(b, `","details":`...)
	switch k.detail {
	case "":
		b = append(b, "null"...)
	case "country":
		b = append(b, `{"value":"`...)
		b = append(b, loc.code...)
		b = append(b, `"}`...)
	default:
		b = append(b, `{"value":"`...)
		b = appendIP(b, r)
		b = append(b, `"}`...)
	}
	b = append(b, `,"target_user":`...)
	b = append(b, g.users[r.n(numUsers)].obj...)
	b = append(b, `,"client":`...)
	b = appendClient(b, r)
	b = append(b, `,"location":`...)
	b = appendCity(b, r, loc)
	b = append(b, `,"account_uuid":"`...)
	b = append(b, g.account...)
	return append(b, `"}`...)
}

func (g *Gen) itemUsage(b []byte, r *rng, ts time.Time) []byte {
	b = append(b, `","timestamp":"`...)
	b = ts.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","used_version":`...)
	b = strconv.AppendUint(b, r.next()%40+1, 10)
	b = append(b, `,"vault_uuid":"`...)
	vault := rng(uint64(r.n(60)) ^ g.Seed)
	b = appendID(b, &vault, lower)
	b = append(b, `","item_uuid":"`...)
	item := rng(uint64(r.n(20000)) ^ g.Seed<<1)
	b = appendID(b, &item, lower)
	b = append(b, `","action":"`...)
	b = append(b, itemActions[r.n(len(itemActions))]...)
	b = append(b, `","user":`...)
	b = append(b, g.users[r.n(numUsers)].obj...)
	b = append(b, `,"client":`...)
	b = appendClient(b, r)
	b = append(b, `,"location":`...)
	b = appendLocation(b, r)
	b = append(b, `,"account_uuid":"`...)
	b = append(b, g.account...)
	return append(b, `"}`...)
}

func appendAuxInfo(b []byte, r *rng, kind string) []byte {
	if r.n(10) == 0 {
		// The long tail: a device description or a note pasted whole.
		n := 500 + r.n(2500)
		for len(b) > 0 && n > 0 {
			w := words[r.n(len(words))]
			b = append(b, w...)
			b = append(b, ' ')
			n -= len(w) + 1
		}
		return b
	}
	switch kind {
	case "device":
		return append(b, devices[r.n(len(devices))]...)
	case "vault":
		return append(b, vaultPerms[r.n(len(vaultPerms))]...)
	}
	return append(b, auxInfos[r.n(len(auxInfos))]...)
}

func appendLocation(b []byte, r *rng) []byte {
	return appendCity(b, r, &cities[r.n(len(cities))])
}

func appendCity(b []byte, r *rng, c *city) []byte {
	switch v := r.n(100); {
	case v < 3:
		return append(b, "{}"...)
	case v < 5:
		b = append(b, `{"country":"`...)
		b = append(b, c.country...)
		b = append(b, `","region":"","city":"","latitude":`...)
		b = append(b, c.lat...)
		b = append(b, `,"longitude":`...)
		b = append(b, c.lon...)
		return append(b, '}')
	}
	b = append(b, `{"country":"`...)
	b = append(b, c.country...)
	b = append(b, `","region":"`...)
	b = append(b, c.region...)
	b = append(b, `","city":"`...)
	b = append(b, c.name...)
	b = append(b, `","latitude":`...)
	b = append(b, c.lat...)
	b = append(b, `,"longitude":`...)
	b = append(b, c.lon...)
	return append(b, '}')
}

func appendClient(b []byte, r *rng) []byte {
	b = append(b, clients[r.n(len(clients))]...)
	b = append(b, `,"ip_address":"`...)
	b = appendIP(b, r)
	return append(b, `"}`...)
}

// appendIP writes an address of the documentation ranges (RFC 5737,
// RFC 3849): 18 % IPv6.
func appendIP(b []byte, r *rng) []byte {
	v := r.next()
	if v%100 < 18 {
		b = append(b, "2001:db8:"...)
		for i := 0; i < 6; i++ {
			if i > 0 {
				b = append(b, ':')
			}
			b = strconv.AppendUint(b, (v>>(8+i*9))&0xffff|0x1000, 16)
			v = mix(v)
		}
		return b
	}
	b = append(b, ipPrefixes[(v>>8)%3]...)
	return strconv.AppendUint(b, (v>>16)%254+1, 10)
}

var ipPrefixes = [3]string{"192.0.2.", "198.51.100.", "203.0.113."}

const (
	upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	lower = "abcdefghijklmnopqrstuvwxyz234567"
)

// appendID writes a 26-character base32 identifier, the shape of
// 1Password's uuids.
func appendID(b []byte, r *rng, alphabet string) []byte {
	hi, lo := r.next(), r.next()
	for i := 0; i < 13; i++ {
		b = append(b, alphabet[hi>>(5*i)&31])
	}
	for i := 0; i < 13; i++ {
		b = append(b, alphabet[lo>>(5*i)&31])
	}
	return b
}

// mix is the splitmix64 finalizer.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	return mix(uint64(*r))
}

func (r *rng) n(k int) int { return int(r.next() % uint64(k)) }

// Cursor encodes a position: stream, next index and page limit.
func Cursor(s, next, limit int) string {
	b := strconv.AppendInt([]byte("opb1:"), int64(s), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(next), 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(limit), 10)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Stats describe the events of a generator.
type Stats struct {
	Events                int
	Mean                  float64 // bytes per event
	P50, P99, Max         int
	MeanByStream          [3]float64
	NullDetails, LongTail int // sign-ins with "details":null; events over 2 KB
}

// Measure generates the first n events (spread over the streams as the
// server serves them) and describes their sizes.
func Measure(g *Gen, n int) Stats {
	var st Stats
	var sizes []int
	var total int
	var byStream [3]int
	var counts [3]int
	var b []byte
	for k := 0; k < n; k++ {
		s, i := k%3, k/3
		b = g.Append(b[:0], s, i)
		sizes = append(sizes, len(b))
		total += len(b)
		byStream[s] += len(b)
		counts[s]++
		if s == 1 && containsNull(b) {
			st.NullDetails++
		}
		if len(b) > 2048 {
			st.LongTail++
		}
	}
	st.Events = n
	if n == 0 {
		return st
	}
	st.Mean = float64(total) / float64(n)
	for s := range byStream {
		if counts[s] > 0 {
			st.MeanByStream[s] = float64(byStream[s]) / float64(counts[s])
		}
	}
	sortInts(sizes)
	st.P50, st.P99, st.Max = sizes[n/2], sizes[n*99/100], sizes[n-1]
	return st
}

func containsNull(b []byte) bool {
	const pat = `"details":null`
	for i := 0; i+len(pat) <= len(b); i++ {
		if string(b[i:i+len(pat)]) == pat {
			return true
		}
	}
	return false
}

func sortInts(a []int) {
	// Shell sort: no import for a test-sized helper.
	for gap := len(a) / 2; gap > 0; gap /= 2 {
		for i := gap; i < len(a); i++ {
			for j := i; j >= gap && a[j-gap] > a[j]; j -= gap {
				a[j-gap], a[j] = a[j], a[j-gap]
			}
		}
	}
}
