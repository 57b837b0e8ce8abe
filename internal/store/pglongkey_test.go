package store_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestPGLongKey: an invalid_row whose key holds a long value as read (a malformed
// CSV field, a long string key) must be stored like any other outcome, as SQLite does.
func TestPGLongKey(t *testing.T) {
	ctx := context.Background()
	pg := testdb.NewPostgres(t)
	s, err := store.OpenPostgres(ctx, pg.URI())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	b := make([]byte, 6000)
	_, _ = rand.Read(b)
	long := base64.StdEncoding.EncodeToString(b)
	d := diff.Discrepancy{Kind: diff.KindInvalidRow, Side: diff.SideSource, Key: raceKey(long), Reason: "column amount: bad", Position: "a.csv line 2"}
	if err := s.StartRun(ctx, store.Run{ID: "r1", Job: "ns/j", StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePartition(ctx, store.Partition{RunID: "r1", Summary: diff.Summary{Compared: 1, InvalidRows: 1, SourceRows: 1}, Discrepancies: []diff.Discrepancy{d}}); err != nil {
		t.Fatalf("write partition: %.300v", err)
	}
	if _, err := s.FinishRun(ctx, "r1", store.RunDiscrepant, time.Now(), ""); err != nil {
		t.Fatalf("finish: %.300v", err)
	}
}
