package rules_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/rules/casegen"
	"github.com/wazuh-pull/wazuh-pull/rules/ruleset"
	"github.com/wazuh-pull/wazuh-pull/shared/wazuhlab"
)

// The delivery tests send case lines through the two ways they reach a
// manager and check that analysisd archived each one, decoded it as JSON
// and ended it on its case's rule, with its case's level and groups.
//
// A case's rule holds for its line alone; in a stream, correlation rules
// see the earlier events (and analysisd, which matches on several threads,
// may see two close events in either order). So the stream is built from
// the single-line cases, in case order, leaving out a line whenever it
// would give some correlation rule enough events to fire: no correlation
// can then fire, in any order, and every line must end on its case's rule.
// Correlation rules themselves are checked by TestCasesOnEngine.

// deliveryLine is one line to deliver and its expected verdict.
type deliveryLine struct {
	vendor *casegen.Vendor
	event  string // as the sender writes it
	want   verdict
}

// quietStream picks each vendor's single-line cases that together cannot
// fire a correlation rule: for every correlation rule, the events it counts
// (those ending on its if_matched_sid, or on a rule of its
// if_matched_group), grouped by its same_field values, stay below what it
// needs to fire.
func quietStream(t *testing.T, set *ruleset.Set) map[string][]casegen.CaseLine {
	t.Helper()
	type key struct {
		rule  int
		group string
	}
	counts := map[key]int{}
	out := map[string][]casegen.CaseLine{}
	for name, f := range vendorCases(t) {
		for _, c := range f.Cases {
			if len(c.Lines) != 1 {
				continue
			}
			ln := c.Lines[0]
			d, err := ruleset.Decode([]byte(ln.Event))
			if err != nil {
				t.Fatal(err)
			}
			id, _ := strconv.Atoi(ln.Expect.RuleID)
			final := set.Rule(id)
			var touched []key
			fits := true
			for _, cr := range set.Rules {
				if !cr.Correlation() || !countedBy(cr, final) {
					continue
				}
				group := ""
				complete := true
				for _, sf := range cr.SameField {
					v, ok := d.Get(sf)
					complete = complete && ok
					group += "\x00" + v
				}
				if !complete {
					continue // analysisd skips events without the field
				}
				k := key{cr.ID, group}
				if counts[k]+1 > quietLimit(cr) {
					fits = false
					break
				}
				touched = append(touched, k)
			}
			if !fits {
				continue
			}
			for _, k := range touched {
				counts[k]++
			}
			out[name] = append(out[name], ln)
		}
	}
	return out
}

// countedBy reports whether correlation rule c counts events ending on r.
func countedBy(c, r *ruleset.Rule) bool {
	if r == nil {
		return false
	}
	if c.IfMatchedSID == r.ID {
		return true
	}
	for _, g := range r.Groups {
		if c.IfMatchedGroup != "" && strings.Contains(g, c.IfMatchedGroup) {
			return true
		}
	}
	return false
}

// quietLimit is how many counted events a correlation rule may see without
// firing: frequency-1 when the firing event is itself one it counts (it
// hangs below the counted rules), frequency-2 when it hangs below another
// rule (its firing event comes on top of the counted ones).
func quietLimit(c *ruleset.Rule) int {
	f := c.Frequency
	if f == 0 {
		f = 2
	}
	if len(c.IfSID) > 0 && !slices.Contains(c.IfSID, c.IfMatchedSID) {
		return f - 2
	}
	return f - 1
}

// freshEngine restarts the daemons so that no correlation state of an
// earlier test remains.
func freshEngine(ctx context.Context, t *testing.T, l *wazuhlab.Lab) {
	t.Helper()
	if err := l.Stop(ctx, wazuhlab.Daemons()...); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx, wazuhlab.Daemons()...); err != nil {
		t.Fatal(err)
	}
}

// checkArchived waits until every line is in archives.json (matched by its
// JSON text) and compares each record with its expected verdict.
func checkArchived(ctx context.Context, t *testing.T, tail *wazuhlab.Tail, lines []deliveryLine, location func(*casegen.Vendor) string) {
	t.Helper()
	byJSON := map[string]*deliveryLine{}
	for i := range lines {
		byJSON[jsonPart(lines[i].event)] = &lines[i]
	}
	found := map[string]wazuhlab.Record{}
	recs, err := tail.WaitRecords(ctx, func(rs []wazuhlab.Record) bool {
		for _, r := range rs {
			if _, ok := byJSON[jsonPart(r.FullLog)]; ok {
				found[jsonPart(r.FullLog)] = r
			}
		}
		return len(found) == len(byJSON)
	})
	if err != nil {
		t.Fatalf("%d of %d lines archived (%d records read): %v", len(found), len(byJSON), len(recs), err)
	}
	mismatch := 0
	for key, dl := range byJSON {
		r := found[key]
		if got := verdictOf(r.Event); r.Location != location(dl.vendor) || !got.equal(dl.want) {
			mismatch++
			if mismatch <= 10 {
				t.Errorf("%s event archived with location %q and %s\n  want location %q and %s\n  event %s", dl.vendor.Name, r.Location, got, location(dl.vendor), dl.want, short(dl.event))
			}
		}
	}
	if mismatch > 0 {
		t.Errorf("%d of %d delivered events were not classified by their case's rule", mismatch, len(byJSON))
	}
	t.Logf("%d events archived, decoded as json and classified by their case's rule", len(byJSON))
}

// jsonPart is the event's JSON object, without <PRI> or a syslog header.
func jsonPart(s string) string {
	if i := strings.IndexByte(s, '{'); i >= 0 {
		return s[i:]
	}
	return s
}

// TestSyslogPathClassifiesEveryEvent sends the case lines to remoted as
// wazuh-pull's syslog sink writes them: "<PRI>{json}", and for Proofpoint
// with the optional RFC 3164 header ("<PRI>Mmm dd hh:mm:ss host
// wazuh-pull: {json}"), which needs rules/wazuh_pull_decoders.xml. The
// sending is paced (analysisd archives through a bounded queue).
func TestSyslogPathClassifiesEveryEvent(t *testing.T) {
	l := lab.Get(t)
	ctx := engineCtx(t)
	freshEngine(ctx, t, l)
	stream := quietStream(t, loadSet(t))
	var lines []deliveryLine
	var wire [][]byte
	for _, v := range casegen.Vendors() {
		for _, ln := range stream[v.Name] {
			framed := ln.Event
			if v.Name == "proofpoint" {
				framed = withHeader(framed)
			}
			lines = append(lines, deliveryLine{vendor: v, event: framed, want: expected(ln.Expect)})
			wire = append(wire, []byte("<134>"+framed))
		}
	}
	tail, err := l.TailArchives()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SendSyslog(ctx, wire, wazuhlab.SendOptions{PerSecond: 500}); err != nil {
		t.Fatal(err)
	}
	checkArchived(ctx, t, tail, lines, func(*casegen.Vendor) string { return "127.0.0.1" })
}

// TestWodlePathClassifiesEveryEvent runs one command wodle per vendor, as
// the README installs them, whose command prints the vendor's case lines;
// modulesd forwards them at wazuh_modules.max_eps (1000 here).
func TestWodlePathClassifiesEveryEvent(t *testing.T) {
	l := lab.Get(t)
	ctx := engineCtx(t)
	freshEngine(ctx, t, l)
	if err := l.Stop(ctx, wazuhlab.Modulesd); err != nil {
		t.Fatal(err)
	}
	stream := quietStream(t, loadSet(t))
	var lines []deliveryLine
	for _, v := range casegen.Vendors() {
		var events []string
		for _, ln := range stream[v.Name] {
			lines = append(lines, deliveryLine{vendor: v, event: ln.Event, want: expected(ln.Expect)})
			events = append(events, ln.Event)
		}
		out := filepath.Join(l.Dir, v.Tag+".out")
		if err := os.WriteFile(out, []byte(strings.Join(events, "\n")+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := l.AddWodle(ctx, wazuhlab.Wodle{Tag: v.Tag, Command: "/bin/cat " + out}); err != nil {
			t.Fatal(err)
		}
		defer l.RemoveWodle(context.Background(), v.Tag)
	}
	tail, err := l.TailArchives()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx, wazuhlab.Modulesd); err != nil {
		t.Fatal(err)
	}
	checkArchived(ctx, t, tail, lines, func(v *casegen.Vendor) string { return v.Location() })
}
