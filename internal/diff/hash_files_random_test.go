package diff_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

type rgfRow struct {
	id, id2, amount, name, note string
	nullID                      bool
}

func rgfLine(r rgfRow) string {
	id := strconv.Quote(r.id)
	if r.nullID {
		id = ""
	}
	return strings.Join([]string{id, r.id2, r.amount, r.name, r.note}, ",")
}

func rgfGen(seed uint64) (src, tgt []rgfRow) {
	rng := rand.New(rand.NewPCG(seed, 3))
	nk := 1 + rng.IntN(400)
	mk := func() rgfRow {
		r := rgfRow{id: fmt.Sprintf("id%04d", rng.IntN(nk)), id2: strconv.Itoa(rng.IntN(3)),
			amount: fmt.Sprintf("%d.%d", rng.IntN(3), rng.IntN(3)), name: []string{"a", "b", " a"}[rng.IntN(3)],
			note: strings.Repeat("n", rng.IntN(40))}
		switch rng.IntN(150) {
		case 0:
			r.nullID = true
		case 1:
			r.id = ""
		case 2:
			r.amount = "x"
		case 3:
			r.amount = "1e1"
		case 4:
			r.amount = "  1.0 "
		}
		return r
	}
	ns, nt := rng.IntN(2500), rng.IntN(2500)
	for range ns {
		r := mk()
		src = append(src, r)
		if rng.IntN(4) > 0 {
			t := r
			switch rng.IntN(8) {
			case 0:
				t.note += "changed" // not compared
			case 1:
				t.amount += "0" // same value, other spelling
			case 2:
				t.amount = "9.99"
			case 3:
				t.name = strings.ToUpper(t.name)
			}
			tgt = append(tgt, t)
		}
	}
	for len(tgt) < nt {
		tgt = append(tgt, mk())
	}
	if rng.IntN(2) == 0 { // a hot key
		for range rng.IntN(600) {
			r := mk()
			r.id, r.id2, r.nullID = "id0000", "0", false
			if rng.IntN(2) == 0 {
				src = append(src, r)
			} else {
				tgt = append(tgt, r)
			}
		}
	}
	less := func(rows []rgfRow) {
		sort.SliceStable(rows, func(i, j int) bool {
			a, b := rows[i], rows[j]
			if a.nullID != b.nullID {
				return a.nullID
			}
			if a.id != b.id {
				return a.id < b.id
			}
			return a.id2 < b.id2
		})
	}
	less(src)
	less(tgt)
	return src, tgt
}

func rgfWrite(t *testing.T, dir, name string, rows []rgfRow) string {
	var sb strings.Builder
	sb.WriteString("id,id2,amount,name,note\n")
	for _, r := range rows {
		sb.WriteString(rgfLine(r))
		sb.WriteByte('\n')
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func rgfRun(t *testing.T, spec diff.Spec, sp, tp string, ordered []string, opts ...diff.Option) (diff.Summary, string, diff.Stats, error) {
	t.Helper()
	src, err := source.Open(t.Context(), sp, source.Options{OrderedBy: ordered})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	tgt, err := source.Open(t.Context(), tp, source.Options{OrderedBy: ordered})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tgt.Close() }()
	var c diff.Collect
	var st diff.Stats
	opts = append(opts, diff.WithStats(func(s diff.Stats) { st = s }))
	sum, err := diff.Run(t.Context(), spec, src, tgt, &c, opts...)
	diff.SortDiscrepancies(c.Discrepancies)
	var sb strings.Builder
	for _, d := range c.Discrepancies {
		sb.Write(d.AppendJSON(nil))
		sb.WriteByte('\n')
	}
	return sum, sb.String(), st, err
}

func TestHashFilesAgainstMergeRandom(t *testing.T) {
	seeds := 8 // CH_RANDOM_SEEDS for more
	if s := os.Getenv("CH_RANDOM_SEEDS"); s != "" {
		seeds, _ = strconv.Atoi(s)
	}
	for seed := range uint64(seeds) {
		src, tgt := rgfGen(seed)
		dir := t.TempDir()
		sp, tp := rgfWrite(t, dir, "s.csv", src), rgfWrite(t, dir, "t.csv", tgt)
		for _, composite := range []bool{false, true} {
			spec := diff.Spec{Keys: []diff.Column{{Name: "id"}},
				Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "name", Trim: true}}}
			ord := []string{"id"}
			if composite {
				spec.Keys = append(spec.Keys, diff.Column{Name: "id2", Type: diff.TypeInteger})
				ord = []string{"id", "id2"}
			}
			spec.Strategy = diff.StrategyMerge
			sumM, dM, _, err := rgfRun(t, spec, sp, tp, ord)
			if err != nil {
				t.Fatalf("seed %d: merge: %v", seed, err)
			}
			var refSum *diff.Summary
			var refD string
			for _, mx := range []int64{1, 7, 50} {
				for _, budget := range []int64{diff.MinMemoryBudget, 256 << 10, 0} {
					spec := spec
					spec.Strategy, spec.MemoryBudget, spec.TempDir, spec.MaxDiscrepancies = diff.StrategyHash, budget, t.TempDir(), mx
					sum, d, _, err := rgfRun(t, spec, sp, tp, nil)
					if err != nil {
						t.Errorf("max %d: %v", mx, err)
						continue
					}
					if budget == diff.MinMemoryBudget {
						refSum, refD = &sum, d
					} else if sum != *refSum || d != refD {
						t.Errorf("seed %d composite %v max %d budget %d: %+v vs %+v", seed, composite, mx, budget, sum, *refSum)
					}
				}
			}
			for _, budget := range []int64{diff.MinMemoryBudget, 0} {
				for _, nofp := range []bool{false, true} {
					spec := spec
					spec.Strategy = diff.StrategyHash
					spec.MemoryBudget = budget
					spec.TempDir = t.TempDir()
					var opts []diff.Option
					if nofp {
						opts = append(opts, diff.WithoutFingerprints())
					}
					sum, d, st, err := rgfRun(t, spec, sp, tp, nil, opts...)
					what := fmt.Sprintf("seed %d composite %v budget %d nofp %v", seed, composite, budget, nofp)
					if err != nil {
						t.Errorf("%s: %v", what, err)
						continue
					}
					if seed < 2 {
						t.Logf("%s: %+v", what, st)
					}
					if st.Fingerprints == nofp {
						t.Logf("%s: fingerprints %v", what, st.Fingerprints)
					}
					sum.Strategy = sumM.Strategy
					if sum != sumM {
						t.Errorf("%s: summary\n got %+v\nwant %+v", what, sum, sumM)
					}
					if d != dM {
						t.Errorf("%s: discrepancies differ\n--- merge\n%s--- hash\n%s", what, firstDiff(dM, d), firstDiff(d, dM))
					}
					if left, _ := os.ReadDir(spec.TempDir); len(left) > 0 {
						t.Errorf("%s: temp left", what)
					}
				}
			}
		}
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, l)
			if len(out) > 5 {
				break
			}
		}
	}
	return strings.Join(out, "\n") + "\n"
}
