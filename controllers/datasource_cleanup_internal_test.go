package controllers

import (
	"testing"
	"time"
)

// TestCleanupRetry: waits double from Initial up to Max; zero values take the defaults.
func TestCleanupRetry(t *testing.T) {
	c := CleanupRetry{Initial: time.Second, Max: 5 * time.Second, Attempts: 4}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, c.after(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	if d := (CleanupRetry{}).withDefaults(); d != (CleanupRetry{Initial: 5 * time.Second, Max: 2 * time.Minute, Attempts: 12}) {
		t.Errorf("defaults %+v", d)
	}
}
