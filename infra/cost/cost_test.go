package cost

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestInvocationsPerMonth(t *testing.T) {
	if n := InvocationsPerMonth(5 * time.Minute); math.Abs(n-8766) > 1 {
		t.Errorf("every 5 minutes: %.0f a month, want 8766 (365.25/12 days)", n)
	}
	if n := InvocationsPerMonth(time.Minute); math.Abs(n-43830) > 1 {
		t.Errorf("every minute: %.0f", n)
	}
}

func TestSecretReads(t *testing.T) {
	a := Default
	a.Tenants = 1
	// One tenant: its environments keep the secret for the TTL.
	if c, tls := secretReadsPerInvocation(5*time.Minute, PerTenantAndVendor, a); c != 1.0/3 || tls != 1.0/3 {
		t.Errorf("one tenant every 5 min: %v %v, want a read per environment and TTL (1/3)", c, tls)
	}
	// Many tenants: an environment rarely serves the same tenant twice.
	a.Tenants = 1000
	if c, _ := secretReadsPerInvocation(5*time.Minute, PerTenantAndVendor, a); c < 0.99 {
		t.Errorf("1000 tenants: %v reads per invocation, want almost 1", c)
	}
	// A per-vendor secret holds every tenant.
	if c, _ := secretReadsPerInvocation(5*time.Minute, PerVendor, a); c != 1.0/3 {
		t.Errorf("per-vendor secret: %v", c)
	}
	// A schedule longer than the TTL reads every time.
	if c, tls := secretReadsPerInvocation(time.Hour, PerTenantAndVendor, a); c != 1 || tls != 1 {
		t.Errorf("hourly: %v %v", c, tls)
	}
}

func TestBilledSeconds(t *testing.T) {
	a := Default
	inv := Invocation{VendorRequests: 1, DynamoDBWrites: 3, DynamoDBReads: 1, Pages: 1}
	// 300 + 4×10 + 0 + 100 + 30 = 470 ms.
	if s := BilledSeconds(inv, 0, a); s != 0.470 {
		t.Errorf("billed %v s, want 0.470", s)
	}
	// A second of CPU at 256/1769 of a vCPU.
	inv.Events = int(math.Round(a.CPUEventsPerVCPUS * float64(a.MemoryMB) / 1769))
	if s := BilledSeconds(inv, 0, a); math.Abs(s-1.470) > 0.002 {
		t.Errorf("billed %v s, want about 1.470", s)
	}
}

// TestTarget: with the measured figures, one tenant of the vendor costs
// at most $1.00 a month at the default 5-minute schedule, quiet or busy,
// with the default secret layout (the fixed cost of a deployment is
// shared by its tenants and reported apart).
func TestTarget(t *testing.T) {
	f, err := Measured()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range f.Scenarios {
		if time.Duration(s.Interval) != 5*time.Minute {
			continue
		}
		seen[s.Name] = true
		b := Tenant(f, s, PerTenantAndVendor, false, Default, USEast1)
		if b.Total() > 1.00 {
			t.Errorf("%s tenant every 5 minutes: $%.2f a month, over $1.00:\n%v", s.Name, b.Total(), b.Lines)
		}
		// The grouped layouts only save the secret's fee and reads.
		for _, l := range []Layout{PerTenant, PerVendor} {
			if g := Tenant(f, s, l, false, Default, USEast1).Total(); g >= b.Total() {
				t.Errorf("%s layout costs $%.2f, not less than $%.2f", l, g, b.Total())
			}
		}
	}
	if !seen["quiet"] || !seen["busy"] {
		t.Fatalf("figures.json lacks a quiet or busy scenario at 5 minutes: %v", seen)
	}
}

func TestReplaceTable(t *testing.T) {
	doc := "intro\n" + BeginMarker + "\nold\n" + EndMarker + "\nrest\n"
	out, err := ReplaceTable(doc, "new\n")
	if err != nil || out != "intro\n"+BeginMarker+"\nnew\n"+EndMarker+"\nrest\n" {
		t.Fatalf("%q, %v", out, err)
	}
	if got, ok := TableIn(out); !ok || got != "new\n" {
		t.Errorf("TableIn = %q", got)
	}
	if _, err := ReplaceTable("no markers", "x"); err == nil || !strings.Contains(err.Error(), "markers") {
		t.Errorf("err = %v", err)
	}
}

func TestPageMs(t *testing.T) {
	a := Default
	a.MemoryMB, a.CPUEventsPerVCPUS = 1769, 100_000 // one vCPU
	// 1 000 events at 100 000 a second: 10 ms of CPU besides the calls.
	if got, want := PageMs(1000, a), a.VendorRequestMs+a.DynamoDBCallMs+a.RelayConfirmMs+10; math.Abs(got-want) > 1e-9 {
		t.Errorf("PageMs = %v, want %v", got, want)
	}
	a.MemoryMB = 256 // a seventh of a vCPU: seven times the CPU time
	if d := PageMs(1000, a) - PageMs(0, a); math.Abs(d-10*1769.0/256) > 1e-9 {
		t.Errorf("CPU part %v at 256 MB", d)
	}
}
