package proofpointtest

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// User is one entry of a People API answer.
type User struct {
	GUID       string
	Email      string
	Name       string
	Department string
	VIP        bool
	// Score is the attack index (VAP) or the click count (top clickers).
	Score int
}

// SetPeople replaces the tenant's Very Attacked People and top clickers.
func (s *Server) SetPeople(tenantName string, vap, topClickers []User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tn := s.tenantLocked(tenantName)
	tn.people = [2][]User{append([]User(nil), vap...), append([]User(nil), topClickers...)}
}

// GeneratePeople gives the tenant nVAP attacked people and nClickers top
// clickers with deterministic identities.
func (s *Server) GeneratePeople(tenantName string, nVAP, nClickers int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0xbeef))
	mk := func(n int, scale int) []User {
		out := make([]User, n)
		for i := range out {
			name := users[rng.IntN(len(users))]
			out[i] = User{
				GUID:       fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint32()&0xffff, rng.Uint64()&0xffffffffffff),
				Email:      fmt.Sprintf("%s%d@example.org", name, i),
				Name:       fmt.Sprintf("%s %d", name, i),
				Department: []string{"Finance", "Sales", "IT", "HR", ""}[rng.IntN(5)],
				VIP:        rng.IntN(10) == 0,
				Score:      1 + rng.IntN(scale),
			}
		}
		return out
	}
	s.SetPeople(tenantName, mk(nVAP, 3000), mk(nClickers, 40))
}

func (s *Server) servePeople(w http.ResponseWriter, r *http.Request, tn *tenant, ep endpoint, rec *RequestRecord) {
	q := r.URL.Query()
	window, err := strconv.Atoi(q.Get("window"))
	if err != nil || (window != 14 && window != 30 && window != 90) {
		writeText(w, http.StatusBadRequest, MsgBadWindow)
		return
	}
	// The documented page sizes: VAP pages default to 1 000 users,
	// top-clicker pages to 100 with at most 200.
	size, maxSize := 1000, 1000
	if ep.people == 1 {
		size, maxSize = TopClickersDefaultSize, TopClickersMaxSize
	}
	page := 1
	if v := q.Get("size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 1 {
			writeText(w, http.StatusBadRequest, "size must be a positive integer")
			return
		}
		if size > maxSize {
			if s.opts.PeopleOversize != OversizeClamp {
				writeText(w, http.StatusBadRequest, fmt.Sprintf(MsgSizeTooLarge, maxSize))
				return
			}
			size = maxSize
		}
	}
	if v := q.Get("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			writeText(w, http.StatusBadRequest, "page must be 1 or more")
			return
		}
	}
	now := s.opts.Now().UTC().Truncate(time.Hour)
	s.mu.Lock()
	all := tn.people[ep.people]
	lo := min((page-1)*size, len(all))
	hi := min(lo+size, len(all))
	pageUsers := append([]User(nil), all[lo:hi]...)
	total := len(all)
	sum := 0
	for _, u := range all {
		sum += u.Score
	}
	rec.Events = len(pageUsers)
	s.mu.Unlock()
	if page > 1 && lo >= total && s.opts.PeoplePastEnd == PastEndRefused {
		writeText(w, http.StatusBadRequest, MsgNoSuchPage)
		return
	}

	w2 := jw{}
	w2.open()
	w2.key("users")
	w2.b = append(w2.b, '[')
	for i, u := range pageUsers {
		if i > 0 {
			w2.b = append(w2.b, ',')
		}
		uw := jw{b: w2.b}
		uw.open()
		uw.key("identity")
		iw := jw{b: uw.b}
		iw.open()
		iw.str("guid", u.GUID)
		iw.raw("customerUserId", "null")
		iw.strs("emails", []string{u.Email})
		iw.str("name", u.Name)
		if u.Department == "" {
			iw.raw("department", "null")
		} else {
			iw.str("department", u.Department)
		}
		iw.raw("location", "null")
		iw.raw("title", "null")
		iw.raw("vip", strconv.FormatBool(u.VIP))
		uw.b = iw.close()
		if ep.people == 0 {
			uw.key("threatStatistics")
			sw := jw{b: uw.b}
			sw.open()
			sw.num("attackIndex", u.Score)
			sw.key("families")
			sw.b = append(sw.b, `[{"name":"credential phishing","score":`...)
			sw.b = strconv.AppendInt(sw.b, int64(u.Score/2), 10)
			sw.b = append(sw.b, `},{"name":"malware","score":`...)
			sw.b = strconv.AppendInt(sw.b, int64(u.Score-u.Score/2), 10)
			sw.b = append(sw.b, `}]`...)
			uw.b = sw.close()
		} else {
			uw.key("clickStatistics")
			sw := jw{b: uw.b}
			sw.open()
			sw.num("clickCount", u.Score)
			sw.key("families")
			sw.b = append(sw.b, `[{"name":"credential phishing","clicks":`...)
			sw.b = strconv.AppendInt(sw.b, int64(u.Score), 10)
			sw.b = append(sw.b, `}]`...)
			uw.b = sw.close()
		}
		w2.b = uw.close()
	}
	w2.b = append(w2.b, ']')
	interval := now.Add(-time.Duration(window)*24*time.Hour).Format(time.RFC3339) + "/" + now.Format(time.RFC3339)
	if ep.people == 0 {
		w2.num("totalVapUsers", total)
		w2.str("interval", interval)
		avg := 0.0
		if total > 0 {
			avg = float64(sum) / float64(total)
		}
		w2.raw("averageAttackIndex", strconv.FormatFloat(avg, 'f', 2, 64))
		w2.raw("vapAttackIndexThreshold", "1032.73")
	} else {
		w2.num("totalTopClickers", total)
		w2.str("interval", interval)
	}
	body := w2.close()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
