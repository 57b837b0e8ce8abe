package diff

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// FirstN keeps exactly the first n of a sorted whole, whatever the order they come in.
func TestFirstN(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	kinds := []Kind{KindMissingInTarget, KindMissingInSource, KindMismatch, KindDuplicateKey, KindInvalidRow}
	for _, total := range []int{0, 1, 7, 100, 5000} {
		var all []Discrepancy
		for range total {
			all = append(all, Discrepancy{Kind: kinds[rng.IntN(len(kinds))],
				Key: []KeyValue{{Name: "id", Value: Cell{Text: fmt.Sprintf("k%05d", rng.IntN(100000))}}}})
		}
		for _, n := range []int{1, 20, 100} {
			f := NewFirstN(n)
			for _, d := range all {
				f.Add(d)
			}
			want := slices.Clone(all)
			SortDiscrepancies(want)
			want = want[:min(n, len(want))]
			if got := f.Sorted(); len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
				t.Fatalf("%d of %d: kept\n%v\nwant\n%v", n, total, got, want)
			}
		}
	}
}
