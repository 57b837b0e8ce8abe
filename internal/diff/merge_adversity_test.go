package diff

import (
	"strings"
	"testing"
)

// Adversity review of the sorted merge: typed keys are verified in the order of their
// values, not of their bytes. Integer keys written "9", "010", " 11" are in key order
// (9 < 10 < 11) though not in byte order; the same keys in byte order ("010", " 11",
// "9") are out of key order, an error naming the row, never a silent wrong answer.
// (sliceReader numbers rows from line 2, as under a header.)
func TestMergeTypedKeysOrderByValue(t *testing.T) {
	spec := Spec{Keys: []Column{{Name: "id", Type: TypeInteger}}, Compare: []Column{{Name: "v"}}, Strategy: StrategyMerge}
	cols := []string{"id", "v"}
	byValue := [][]Cell{row("9", "a"), row("010", "b"), row(" 11", "c")}
	tgt := [][]Cell{row("09", "a"), row("10", "b"), row("11", "x")}
	sum, ds, err := runCollect(t, spec, newSliceReader("s.csv", cols, byValue), newSliceReader("t.csv", cols, tgt))
	if err != nil || sum.Matched != 2 || sum.Mismatched != 1 || len(ds) != 1 || ds[0].Key[0].Value.Text != " 11" {
		t.Fatalf("by value: %+v %+v %v", sum, ds, err)
	}
	byBytes := [][]Cell{row("010", "b"), row(" 11", "c"), row("9", "a")}
	_, _, err = runCollect(t, spec, newSliceReader("s.csv", cols, byBytes), newSliceReader("t.csv", cols, tgt))
	if err == nil || !strings.Contains(err.Error(), `source is not in key order: the row at s.csv line 4 has key ("9") after key ("11")`) {
		t.Fatalf("by bytes: %v", err)
	}
}
