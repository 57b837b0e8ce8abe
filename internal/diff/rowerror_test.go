package diff

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
)

// badRow is an InvalidRowError as a reader returns it for a ragged or malformed row.
type badRow struct{ pos, reason string }

func (e badRow) Error() string                         { return e.pos + ": " + e.reason }
func (e badRow) InvalidRow() (position, reason string) { return e.pos, e.reason }

// rowErrReader returns an InvalidRowError instead of the row at index bad.
type rowErrReader struct {
	*orderedReader
	bad int
}

func (r *rowErrReader) Next() ([]Cell, error) {
	cells, err := r.orderedReader.Next()
	if err == nil && r.i-1 == r.bad {
		return nil, badRow{pos: r.Position(), reason: "expected 2 fields, got 3"}
	}
	return cells, err
}

// TestInvalidRowErrorIsAnOutcome: a row the reader cannot make into cells becomes one
// invalid_row outcome with the reader's reason and position, and the run reads on.
func TestInvalidRowErrorIsAnOutcome(t *testing.T) {
	cols := []string{"id", "amount"}
	want := []string{
		`{"kind":"missing_in_source","key":{"id":"2"}}`,
		`{"kind":"mismatch","key":{"id":"3"},"columns":[{"name":"amount","source":"30","target":"31"}]}`,
		`{"kind":"invalid_row","key":{"id":null},"side":"source","reason":"expected 2 fields, got 3","position":"a.csv line 3"}`,
	}
	for _, strategy := range []Strategy{StrategyMerge, StrategyHash} {
		src := &rowErrReader{orderedReader: &orderedReader{newSliceReader("a.csv", cols, [][]Cell{row("1", "10"), row("2", "20"), row("3", "30")}), []string{"id"}}, bad: 1}
		tgt := &orderedReader{newSliceReader("b.csv", cols, [][]Cell{row("1", "10.0"), row("2", "20"), row("3", "31")}), []string{"id"}}
		spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "amount", Type: TypeDecimal}}, Strategy: strategy}
		var got Collect
		sum, err := Run(context.Background(), spec, src, tgt, &got)
		if err != nil {
			t.Fatalf("%s: %v", strategy, err)
		}
		SortDiscrepancies(got.Discrepancies)
		var lines []string
		for _, d := range got.Discrepancies {
			b, _ := json.Marshal(d)
			lines = append(lines, string(b))
		}
		if !slices.Equal(lines, want) {
			t.Errorf("%s: discrepancies\n%v\nwant\n%v", strategy, lines, want)
		}
		if sum.InvalidRows != 1 || sum.Matched != 1 || sum.Compared != 4 || sum.SourceRows != 3 {
			t.Errorf("%s: summary %+v", strategy, sum)
		}
	}
}
