package store_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// memReader is an in-memory diff.Reader.
type memReader struct {
	cols []string
	rows [][]diff.Cell
	i    int
}

func (r *memReader) Columns() []string { return r.cols }
func (r *memReader) Next() ([]diff.Cell, error) {
	if r.i >= len(r.rows) {
		return nil, io.EOF
	}
	r.i++
	return r.rows[r.i-1], nil
}
func (r *memReader) Position() string { return fmt.Sprintf("row %d", r.i) }
func (r *memReader) Close() error     { return nil }

// reviewMaskKey masks the accounts of TestSensitiveKeysAreDistinctCases.
var reviewMaskKey = []byte("clearhouse store test mask key, 32+ bytes")

// maskCollision finds two different account numbers whose masks would have been equal
// when a mask showed 32 bits (8 hex digits): a birthday search needs ~80,000 values.
func maskCollision(t *testing.T) (string, string) {
	t.Helper()
	seen := map[string]string{}
	for i := 0; i < 2_000_000; i++ {
		v := fmt.Sprintf("DE89370400440%09d", i)
		m := diff.Mask(reviewMaskKey, v)[:3+8]
		if prev, ok := seen[m]; ok {
			return prev, v
		}
		seen[m] = v
	}
	t.Fatal("no collision found")
	return "", ""
}

// TestSensitiveKeysAreDistinctCases: a job keyed by a sensitive column (an account
// number, an IBAN) gets one case per key. Two different accounts that are both missing
// in the target are two discrepancies and must be two cases; a reviewer who closes one
// must not close the other, and auto-resolution of one must not depend on the other.
//
// Found by review J: the case key is the masked key, and a mask showed 32 bits, so
// different accounts fell into one case (at 100,000 discrepancies a collision was more
// likely than not). A mask shows 64 bits now: two accounts whose 32-bit masks collide
// are two cases.
func TestSensitiveKeysAreDistinctCases(t *testing.T) {
	ctx := context.Background()
	a, b := maskCollision(t)
	spec := diff.Spec{
		MaskKey: reviewMaskKey,
		Keys:    []diff.Column{{Name: "iban", Sensitive: true}},
		Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}},
	}
	src := &memReader{cols: []string{"iban", "amount"}, rows: [][]diff.Cell{{{Text: a}, {Text: "10.00"}}, {{Text: b}, {Text: "20.00"}}}}
	tgt := &memReader{cols: []string{"iban", "amount"}}
	var ds []diff.Discrepancy
	sum, err := diff.Run(ctx, spec, src, tgt, diff.SinkFunc(func(d diff.Discrepancy) error { ds = append(ds, d); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if sum.MissingInTarget != 2 {
		t.Fatalf("missing in target = %d, want 2", sum.MissingInTarget)
	}

	s, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	if err := s.StartRun(ctx, store.Run{ID: "run1", Job: "ns/job", StartedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePartition(ctx, store.Partition{RunID: "run1", Summary: sum, Discrepancies: ds}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishRun(ctx, "run1", store.RunDiscrepant, now.Add(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	n, err := s.CountCases(ctx, store.CaseFilter{Job: "ns/job", States: []store.CaseState{store.CaseOpen}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("two different accounts missing in the target: %d open case(s), want 2 (keys %+v and %+v)", n, ds[0].Key, ds[1].Key)
	}
}
