package runner_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	_ "github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// key spellings per mode: each base value i has several spellings that are equal.
func partSpell(rng *rand.Rand, mode string, i int) string {
	switch mode {
	case "decimal":
		v := fmt.Sprintf("%d.%d", i/10, i%10)
		return []string{v, v + "0", "0" + v, " " + v + " ", fmt.Sprintf("%de-1", i), "+" + v}[rng.IntN(6)]
	case "integer":
		return []string{fmt.Sprint(i), fmt.Sprintf("00%d", i), fmt.Sprintf(" %d", i), fmt.Sprintf("+%d", i)}[rng.IntN(4)]
	case "timestamp":
		base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 37 * time.Minute)
		switch rng.IntN(5) {
		case 0:
			return base.Format("2006-01-02T15:04:05Z")
		case 1:
			return base.In(time.FixedZone("", 7*3600)).Format("2006-01-02T15:04:05-07:00")
		case 2:
			return base.In(time.FixedZone("", -5*3600)).Format("2006-01-02 15:04:05-0700")
		case 3:
			return base.Format("2006-01-02 15:04:05.000000")
		default:
			return base.Format("2006-01-02T15:04:05") + ".0000001Z"
		}
	case "trim":
		return []string{fmt.Sprintf("k%d", i), fmt.Sprintf(" k%d", i), fmt.Sprintf("k%d  ", i)}[rng.IntN(3)]
	case "icase":
		return []string{fmt.Sprintf("k%d", i), fmt.Sprintf("K%d", i), fmt.Sprintf("k%dß", i)}[rng.IntN(2)]
	}
	return fmt.Sprintf("k%d", i)
}

func partFiles(t *testing.T, seed uint64, mode string) (string, string) {
	rng := rand.New(rand.NewPCG(seed, 5))
	dir := t.TempDir()
	var b [2]strings.Builder
	for s := range 2 {
		b[s].WriteString("id,id2,amount\n")
	}
	nk := 300 + rng.IntN(300)
	for i := range nk {
		ns, nt := 1, 1
		switch rng.IntN(12) {
		case 0:
			ns = 0
		case 1:
			nt = 0
		case 2:
			ns = 2
		case 3:
			nt = 3
		}
		for s, n := range []int{ns, nt} {
			for range n {
				k := partSpell(rng, mode, i)
				amt := fmt.Sprintf("%d.%d", i%7, rng.IntN(2))
				switch rng.IntN(40) {
				case 0:
					k = ""
				case 1:
					k = `""`
				case 2:
					k = `"  "`
				case 3:
					amt = "bad"
				case 4:
					b[s].WriteString(k + ",ragged\n")
					continue
				case 5:
					k = "notakey"
				case 6:
					b[s].WriteString(k + `,0,"unterminated` + "\n" + `x"y,1` + "\n")
					continue
				}
				id2 := fmt.Sprint(rng.IntN(2))
				if mode == "timestamp" && rng.IntN(2) == 0 {
					id2 = " " + id2
				}
				fmt.Fprintf(&b[s], "%s,%s,%s\n", k, id2, amt)
			}
		}
	}
	var paths [2]string
	for s, name := range []string{"source.csv", "target.csv"} {
		paths[s] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[s], []byte(b[s].String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return paths[0], paths[1]
}

func partPlan(t *testing.T, sp, tp, mode string, strategy chv1.Strategy) runner.Plan {
	fs := func(name, path string) *chv1.DataSource {
		return &chv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
			Spec: chv1.DataSourceSpec{Type: chv1.DataSourceFile, File: &chv1.FileSource{URL: "file://" + path}, KeyColumns: []string{"id", "id2"}, TimeZone: "Europe/Paris"}}
	}
	src, tgt := fs("a", sp), fs("b", tp)
	job := &chv1.ReconciliationJob{ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"},
		Spec: chv1.ReconciliationJobSpec{Source: chv1.JobSide{DataSource: "a"}, Target: chv1.JobSide{DataSource: "b"},
			Keys:     []chv1.KeyMapping{{Source: "id"}, {Source: "id2", Type: chv1.ColumnInteger}},
			Compare:  []chv1.ColumnComparison{{Source: "amount", Type: chv1.ColumnDecimal}},
			Strategy: strategy}}
	switch mode {
	case "decimal":
		job.Spec.Keys[0].Type = chv1.ColumnDecimal
	case "integer":
		job.Spec.Keys[0].Type = chv1.ColumnInteger
	case "timestamp":
		job.Spec.Keys[0].Type = chv1.ColumnTimestamp
	}
	plan, err := runner.PlanFor(job, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "trim":
		plan.Spec.Keys[0].Trim = true
	case "icase":
		plan.Spec.Keys[0].IgnoreCase = true
	}
	return plan
}

func partRun(t *testing.T, plan runner.Plan, st store.Store, count int, id string) (store.Run, []string) {
	ctx := ctxFor(t)
	if err := st.StartRun(ctx, store.Run{ID: id, Job: plan.Job, Trigger: "Manual", Partitions: count}); err != nil {
		t.Fatal(err)
	}
	for i := count - 1; i >= 0; i-- {
		if _, err := runner.Execute(ctx, plan, nil, nil, runner.Partition{RunID: id, Index: i, Count: count}, st); err != nil {
			t.Fatalf("partition %d: %v", i, err)
		}
	}
	run, err := st.FinishRun(ctx, id, store.RunDiscrepant, time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := st.Discrepancies(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, d := range ds {
		lines = append(lines, string(d.AppendJSON(nil)))
	}
	slices.Sort(lines)
	return run, lines
}

// TestPartitionsAgainstOneRandom: a job run in 2 or 5 partitions gives exactly the
// summary and discrepancies of one partition, for string, decimal, integer and
// timestamp keys spelled several ways (each key must land in one partition on both
// sides), trimmed and case-folded keys, empty and unparsable keys, ragged rows and
// duplicates. (From the sixth session's review; kept as a guard.)
func TestPartitionsAgainstOneRandom(t *testing.T) {
	st := sqliteStore(t)
	n := 0
	for _, mode := range []string{"string", "decimal", "integer", "timestamp", "trim", "icase"} {
		for seed := uint64(1); seed <= 6; seed++ {
			for _, strat := range []chv1.Strategy{chv1.Strategy("Hash")} {
				sp, tp := partFiles(t, seed, mode)
				plan := partPlan(t, sp, tp, mode, strat)
				n++
				want, wl := partRun(t, plan, st, 1, fmt.Sprintf("r%d-1", n))
				for _, count := range []int{2, 5} {
					got, gl := partRun(t, plan, st, count, fmt.Sprintf("r%d-%d", n, count))
					if fmt.Sprintf("%+v", got.Summary) != fmt.Sprintf("%+v", want.Summary) {
						t.Errorf("%s seed %d count %d: summary\n got %+v\nwant %+v", mode, seed, count, got.Summary, want.Summary)
					}
					if !slices.Equal(gl, wl) {
						for i := range min(len(gl), len(wl)) {
							if gl[i] != wl[i] {
								t.Errorf("%s seed %d count %d: first diff\n got %s\nwant %s", mode, seed, count, gl[i], wl[i])
								break
							}
						}
						t.Errorf("%s seed %d count %d: %d vs %d discrepancies", mode, seed, count, len(gl), len(wl))
					}
				}
				if seed == 1 {
					t.Logf("%s: %+v", mode, want.Summary)
				}
			}
		}
	}
}
