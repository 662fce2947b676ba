package simtest

import (
	"context"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("new clock reads %v", c.Now())
	}
	if got := c.Advance(time.Hour); !got.Equal(t0.Add(time.Hour)) || !c.Now().Equal(got) {
		t.Fatalf("Advance returned %v, reads %v", got, c.Now())
	}
	if got := c.Advance(-2 * time.Hour); !got.Equal(t0.Add(-time.Hour)) {
		t.Fatalf("a negative Advance reads %v", got)
	}
	c.Set(t0)
	c.AdvanceTo(t0.Add(-time.Minute))
	if !c.Now().Equal(t0) {
		t.Fatalf("AdvanceTo an earlier time moved the clock to %v", c.Now())
	}
	c.AdvanceTo(t0.Add(time.Minute))
	if !c.Now().Equal(t0.Add(time.Minute)) {
		t.Fatalf("AdvanceTo a later time reads %v", c.Now())
	}
}

func TestClockSleepAdvancesAndHonoursTheContext(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	if err := c.Sleep(context.Background(), 5*time.Second); err != nil || !c.Now().Equal(t0.Add(5*time.Second)) {
		t.Fatalf("Sleep: %v, reads %v", err, c.Now())
	}
	if err := c.Sleep(context.Background(), -time.Hour); err != nil || !c.Now().Equal(t0.Add(5*time.Second)) {
		t.Fatalf("a negative Sleep: %v, reads %v", err, c.Now())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Second); err != context.Canceled || !c.Now().Equal(t0.Add(5*time.Second)) {
		t.Fatalf("Sleep with an ended context: %v, reads %v", err, c.Now())
	}
}
