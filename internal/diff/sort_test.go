package diff

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// SortDiscrepancies gives exactly the stable sort by CompareDiscrepancies, whether it
// can use its prefixes or not: keys sharing long starts, NULL keys, zero bytes, ties that
// differ only later (count, columns, reason, position), equal discrepancies, unknown kinds
// and sides, key columns that differ.
func TestSortDiscrepanciesIsTheStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	kinds := []Kind{KindMissingInTarget, KindMissingInSource, KindMismatch, KindDuplicateKey, KindInvalidRow}
	sides := []Side{"", SideSource, SideTarget}
	text := func() string {
		stems := []string{"", "a", "ab", "ab\x00", "P000000000000000", "P0000000000000001", "P00000000000000012", "é", "\xff"}
		return stems[rng.IntN(len(stems))] + fmt.Sprint(rng.IntN(3))[:rng.IntN(2)]
	}
	gen := func(n int, odd bool) []Discrepancy {
		var ds []Discrepancy
		for i := range n {
			d := Discrepancy{Kind: kinds[rng.IntN(len(kinds))], Side: sides[rng.IntN(len(sides))], Count: int64(rng.IntN(2)),
				Key:    []KeyValue{{Name: "region", Value: Cell{Text: text(), Null: rng.IntN(9) == 0}}, {Name: "id", Value: Cell{Text: text()}}},
				Reason: []string{"", "r"}[rng.IntN(2)], Position: fmt.Sprintf("line %d", rng.IntN(4))}
			if rng.IntN(3) == 0 {
				d.Columns = []ColumnDiff{{Name: "amount", Source: Cell{Text: text()}, Target: Cell{Null: rng.IntN(2) == 0}}}
			}
			if odd && i == n/2 {
				switch rng.IntN(3) {
				case 0:
					d.Kind = "unknown_kind"
				case 1:
					d.Side = "sourcex"
				default:
					d.Key[0].Name = "other"
				}
			}
			ds = append(ds, d)
		}
		return ds
	}
	for round := range 200 {
		ds := gen(64+rng.IntN(400), round%4 == 3)
		want := slices.Clone(ds)
		slices.SortStableFunc(want, CompareDiscrepancies)
		SortDiscrepancies(ds)
		if !reflect.DeepEqual(ds, want) {
			t.Fatalf("round %d: the order differs from the stable sort", round)
		}
	}
}
