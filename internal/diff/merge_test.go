package diff

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestMergeRandom runs merge and hash on random sorted inputs full of what the merge
// treats apart (duplicates, texts that differ but are equal, invalid values on one or
// both sides, rows without a usable key between the rows of a key, typed and composite
// keys, columns named differently on each side) and expects the same outcomes.
func TestMergeRandom(t *testing.T) {
	srcCols := []string{"k1", "k2", "a", "t", "d", "s", "x", "b"}
	tgtCols := []string{"K1", "k2", "A", "t", "d", "s", "x", "b", "extra"}
	compare := []Column{
		{Name: "a", Target: "A", Type: TypeDecimal, AbsTolerance: "0.01"},
		{Name: "t", Type: TypeTimestamp, TimeTolerance: 2 * time.Second},
		{Name: "d", Type: TypeDate},
		{Name: "s"},
		{Name: "x", Sensitive: true},
		{Name: "b", Type: TypeBoolean},
	}
	for _, tc := range []struct {
		name string
		keys []Column
	}{
		{"string", []Column{{Name: "k1", Target: "K1"}}},
		{"decimal", []Column{{Name: "k1", Target: "K1", Type: TypeDecimal, Sensitive: true}}},
		{"composite", []Column{{Name: "k1", Target: "K1"}, {Name: "k2", Type: TypeInteger}}},
		{"date", []Column{{Name: "k1", Target: "K1", Type: TypeDate}}},
	} {
		for seed := uint64(1); seed <= 6; seed++ {
			t.Run(fmt.Sprintf("%s/%d", tc.name, seed), func(t *testing.T) {
				spec := Spec{Keys: tc.keys, Compare: compare}
				src, tgt := randomSides(t, seed, spec)
				spec.Strategy = StrategyHash
				sumH, wantDs, err := runCollect(t, spec, newSliceReader("s", srcCols, src), newSliceReader("t", tgtCols, tgt))
				if err != nil {
					t.Fatal(err)
				}
				spec.Strategy = StrategyMerge
				for _, every := range []int{256, 1} {
					sumM, got, err := runCollect(t, spec, &orderedReader{newSliceReader("s", srcCols, src), []string{"k1"}},
						&orderedReader{newSliceReader("t", tgtCols, tgt), []string{"K1"}}, func(o *options) { o.checkEvery = every })
					if err != nil {
						t.Fatal(err)
					}
					assertSame(t, "merge vs hash", wantDs, got)
					sumM.Strategy = sumH.Strategy
					if sumM != sumH {
						t.Errorf("summary: merge %+v, hash %+v", sumM, sumH)
					}
				}
				if sumH.Mismatched == 0 || sumH.DuplicateKeys == 0 || sumH.InvalidRows == 0 || sumH.Matched == 0 {
					t.Errorf("not every kind of outcome: %+v", sumH)
				}
			})
		}
	}
}

// randomSides returns both sides' rows, each in key order (rows without a usable key
// anywhere), the target with one more column.
func randomSides(t *testing.T, seed uint64, spec Spec) (src, tgt [][]Cell) {
	r := rand.New(rand.NewPCG(seed, 99))
	pick := func(vs ...string) string { return vs[r.IntN(len(vs))] }
	typ := spec.Keys[0].Type
	keyText := func(i int) string {
		switch typ {
		case TypeDecimal:
			// Several texts for the same value.
			return pick(strconv.Itoa(i), "0"+strconv.Itoa(i), strconv.Itoa(i)+".0", "+"+strconv.Itoa(i), strconv.Itoa(i)+"e0")
		case TypeDate:
			return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format(pick("2006-01-02", "2006-01-02", "2006-01-02 00:00:00", "2006-01-02T00:00:00Z"))
		}
		return fmt.Sprintf("id%04d", i*7%1000) // string order differs from i's
	}
	// Values: one base per key, varied per side.
	value := func(col string, i int, other bool) any {
		v := r.IntN(100)
		switch col {
		case "a":
			base := fmt.Sprintf("%d.%02d", i, i%100)
			switch {
			case v < 70:
				return base
			case v < 75:
				return base + "0" // same value, other text
			case v < 80 && other:
				return fmt.Sprintf("%d.%02d", i, i%100+1) // within 0.01
			case v < 84 && other:
				return fmt.Sprintf("%d.%02d", i+1, i%100) // outside
			case v < 87:
				return "1,5" // invalid
			case v < 90:
				return nil
			}
			return base
		case "t":
			tm := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
			switch {
			case v < 70:
				return tm.Format(time.RFC3339)
			case v < 75:
				return tm.Add(2 * time.Hour).Format("2006-01-02T15:04:05+02:00") // same instant
			case v < 80 && other:
				return tm.Add(2 * time.Second).Format(time.RFC3339) // within 2s
			case v < 84 && other:
				return tm.Add(3 * time.Second).Format(time.RFC3339) // outside
			case v < 87:
				return "2026-02-29T10:00:00Z" // invalid
			}
			return tm.Format("2006-01-02 15:04:05")
		case "d":
			switch {
			case v < 80:
				return "2026-03-01"
			case v < 85:
				return "2026-03-01 00:00:00"
			case v < 88 && other:
				return "2026-03-02"
			case v < 91:
				return "2026-02-30"
			}
			return nil
		case "s":
			if v < 90 || !other {
				return "name" + strconv.Itoa(i%7)
			}
			switch r.IntN(3) {
			case 0:
				return nil
			case 1:
				return ""
			}
			return "other"
		case "x":
			if v < 90 || !other {
				return "secret" + strconv.Itoa(i%5)
			}
			return "leaked"
		case "b":
			if v < 85 {
				return "true"
			}
			return pick("yes", "T", "1", "maybe", "false")
		}
		panic(col)
	}
	type keyed struct {
		key   []byte // canonical tuple; nil when the row has no usable key
		cells []Cell
	}
	p, err := newPlan(spec, []string{"k1", "k2", "a", "t", "d", "s", "x", "b"}, []string{"K1", "k2", "A", "t", "d", "s", "x", "b", "extra"})
	if err != nil {
		t.Fatal(err)
	}
	var sides [2][]keyed
	for i := 0; i < 400; i++ {
		presence := r.IntN(100)
		for side := 0; side < 2; side++ {
			n := 1
			switch {
			case presence < 8 && side == 1, presence >= 8 && presence < 16 && side == 0:
				n = 0
			case presence >= 16 && presence < 22:
				n = 1 + r.IntN(3)
			}
			for j := 0; j < n; j++ {
				vals := []any{keyText(i), strconv.Itoa(i % 3)}
				for _, c := range []string{"a", "t", "d", "s", "x", "b"} {
					vals = append(vals, value(c, i, side == 1))
				}
				if side == 1 {
					vals = append(vals, "e")
				}
				cells := row(vals...)
				e := newEncoder(p, side)
				key, reason := e.appendKey(nil, cells)
				if reason != "" {
					t.Fatalf("row %v: %s", cells, reason)
				}
				sides[side] = append(sides[side], keyed{key, cells})
			}
		}
		// Rows without a usable key, anywhere.
		if r.IntN(10) == 0 {
			side := r.IntN(2)
			bad := row(pick("", " ", "x"), "1", "1", "2026-03-01T00:00:00Z", "2026-03-01", "s", "x", "true")
			switch r.IntN(4) {
			case 0:
				bad[0] = Cell{Null: true}
			case 1:
				bad = bad[:3] // ragged
			case 2:
				bad[1] = Cell{Text: "one"} // invalid integer (a key in the composite case)
			}
			if side == 1 && len(bad) == 8 {
				bad = append(bad, Cell{Text: "e"})
			}
			if _, reason := newEncoder(p, side).appendKey(nil, bad); reason != "" {
				sides[side] = append(sides[side], keyed{nil, bad})
			}
		}
	}
	for side := range sides {
		// Sort the keyed rows, keeping each unkeyed row after the keyed row before it.
		var keyedRows []keyed
		after := map[int][]keyed{}
		for _, k := range sides[side] {
			if k.key == nil {
				after[len(keyedRows)-1] = append(after[len(keyedRows)-1], k)
				continue
			}
			keyedRows = append(keyedRows, k)
		}
		idx := make([]int, len(keyedRows))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return p.cmpKey(keyedRows[a].key, keyedRows[b].key) })
		var out [][]Cell
		for _, k := range after[-1] {
			out = append(out, k.cells)
		}
		for _, i := range idx {
			out = append(out, keyedRows[i].cells)
			for _, k := range after[i] {
				out = append(out, k.cells)
			}
		}
		if side == 0 {
			src = out
		} else {
			tgt = out
		}
	}
	return src, tgt
}
