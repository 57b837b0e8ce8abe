package source_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// ljRun compares two CSV files under spec and returns the summary, every discrepancy as
// JSON (sorted), and the stats (ljRandRun with the default dialect, failing on an error).
func ljRun(t *testing.T, spec diff.Spec, sp, tp string, opts ...diff.Option) (diff.Summary, []string, diff.Stats) {
	t.Helper()
	sum, out, st, err := ljRandRun(t, spec, sp, tp, source.Options{}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return sum, out, st
}

// ljWritePair writes a source and a target file (s.csv, t.csv) and returns their paths.
func ljWritePair(t *testing.T, src, tgt string) (sp, tp string) {
	t.Helper()
	dir := t.TempDir()
	sp, tp = filepath.Join(dir, "s.csv"), filepath.Join(dir, "t.csv")
	for _, f := range [][2]string{{sp, src}, {tp, tgt}} {
		if err := os.WriteFile(f[0], []byte(f[1]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return sp, tp
}

// ljSame fails unless two runs' summaries and discrepancies (positions included) are
// the same.
func ljSame(t *testing.T, what string, gotSum, wantSum diff.Summary, got, want []string) {
	t.Helper()
	if gotSum != wantSum {
		t.Errorf("%s: summary %+v, want %+v", what, gotSum, wantSum)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d discrepancies, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: discrepancy %d:\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

// generated writes a generated pair into a new directory and returns the directory and
// the comparison its manifest records.
func generated(t *testing.T, cfg func(*gen.Config)) (string, diff.Spec) {
	t.Helper()
	dir := t.TempDir()
	c := gen.DefaultConfig(dir)
	cfg(&c)
	m, err := gen.Run(c)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := m.DiffSpec()
	if err != nil {
		t.Fatal(err)
	}
	return dir, spec
}

// hashSpec is spec by hash, with a budget and a temp dir.
func hashSpec(spec diff.Spec, budget int64, dir string) diff.Spec {
	spec.Strategy, spec.MemoryBudget, spec.TempDir = diff.StrategyHash, budget, dir
	return spec
}

// TestLineJoinOnGeneratedFiles: on generated CSV pairs (every kind of injected
// discrepancy, quoted and multi-line fields), the line join reports exactly what hash
// with keyed fingerprints and hash with every value kept report, positions of invalid
// rows included; with the default budget and with one so small that partitions are
// partitioned again, and the rows left over spill.
func TestLineJoinOnGeneratedFiles(t *testing.T) {
	for _, seed := range []uint64{7, 8} {
		dir, ledger := generated(t, func(c *gen.Config) {
			c.Rows, c.Seed, c.Format, c.Rate = 20000, seed, source.FormatCSV, 0.02
		})
		sp, tp := filepath.Join(dir, "source.csv"), filepath.Join(dir, "target.csv")
		for _, budget := range []int64{0, diff.MinMemoryBudget} {
			spec := hashSpec(ledger, budget, t.TempDir())
			wantSum, want, _ := ljRun(t, spec, sp, tp, diff.WithoutFingerprints())
			keyedSum, keyed, kst := ljRun(t, spec, sp, tp, diff.WithoutLineJoin())
			gotSum, got, st := ljRun(t, spec, sp, tp)
			what := fmt.Sprintf("seed %d budget %d", seed, budget)
			if !st.LineJoin || kst.LineJoin || !kst.Fingerprints {
				t.Fatalf("%s: line join %t, without it %t (fingerprints %t)", what, st.LineJoin, kst.LineJoin, kst.Fingerprints)
			}
			// The rows read again are those of keys whose lines differ: a few percent.
			rows := st.SourceRows + st.TargetRows
			if st.Refetched == 0 || st.Refetched > rows/5 {
				t.Errorf("%s: %d of %d rows read again", what, st.Refetched, rows)
			}
			if budget != 0 && (st.Repartitions == 0 || st.SpilledBytes == 0) {
				t.Errorf("%s: %d repartitions, %d bytes spilled", what, st.Repartitions, st.SpilledBytes)
			}
			if wantSum.InvalidRows == 0 || wantSum.DuplicateKeys == 0 || wantSum.Mismatched == 0 {
				t.Fatalf("%s: the pair lacks a kind of discrepancy: %+v", what, wantSum)
			}
			ljSame(t, what+" (keyed fingerprints)", keyedSum, wantSum, keyed, want)
			ljSame(t, what, gotSum, wantSum, got, want)
		}
	}
}

// TestLineJoinInvalidRowsWherever: rows with a value that does not parse, whose line is
// the same on both sides (so only one side checks it, chosen by the key's hash), on one
// side only, or different, after a BOM, CRLF line ends, empty lines and records over
// several lines: each is reported as an invalid row at its own line on its own side,
// as hash with every value kept reports it.
func TestLineJoinInvalidRowsWherever(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("\ufeffid,amount,day,memo\r\n")
	tg.WriteString("id,amount,day,memo\n\n")
	for i := range 400 {
		amount, day := fmt.Sprint(i), "2026-01-02"
		switch i % 8 {
		case 1:
			amount = "x" + amount // on both sides, the same line
		case 2:
			day = "2026-02-30"
		}
		line := fmt.Sprintf("k%d,%s,%s,m%d", i, amount, day, i)
		if i%13 == 0 {
			line = fmt.Sprintf("k%d,%s,%s,\"two\r\nlines %d\"", i, amount, day, i)
		}
		s.WriteString(line + "\r\n")
		switch i % 5 {
		case 3:
			fmt.Fprintf(&tg, "k%d,%s,bad,m%d\n", i, amount, i) // differs
		case 4:
			if i%3 == 0 {
				continue // missing in target
			}
			fallthrough
		default:
			tg.WriteString(line + "\n")
		}
		if i%50 == 0 {
			tg.WriteString("\n")
		}
	}
	sp, tp := ljWritePair(t, s.String(), tg.String())
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash, Compare: []diff.Column{
		{Name: "amount", Type: diff.TypeDecimal}, {Name: "day", Type: diff.TypeDate}, {Name: "memo"}}}
	wantSum, want, _ := ljRun(t, spec, sp, tp, diff.WithoutFingerprints())
	for range 4 { // the side that checks a line changes with the seeds of each run
		gotSum, got, st := ljRun(t, spec, sp, tp)
		if !st.LineJoin {
			t.Fatal("no line join")
		}
		ljSame(t, "line join", gotSum, wantSum, got, want)
	}
	if wantSum.InvalidRows < 100 {
		t.Fatalf("only %d invalid rows", wantSum.InvalidRows)
	}
}

// TestLineJoinOneKeyEverywhere: every row of both sides has the same key, under the
// smallest budget: no partitioning splits them, so all are left over and compared with
// values (duplicates on both sides), as without the line join.
func TestLineJoinOneKeyEverywhere(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,day,memo\n")
	tg.WriteString("id,amount,day,memo\n")
	for i := range 3000 {
		fmt.Fprintf(&s, "same,%d,2026-01-02,m\n", i)
		fmt.Fprintf(&tg, "same,%d,2026-01-02,m\n", i)
		fmt.Fprintf(&s, "k%d,1,2026-01-02,m\n", i)
		fmt.Fprintf(&tg, "k%d,1,2026-01-02,m\n", i)
	}
	sp, tp := ljWritePair(t, s.String(), tg.String())
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash, MemoryBudget: diff.MinMemoryBudget,
		TempDir: t.TempDir(), Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "memo"}}}
	wantSum, want, _ := ljRun(t, spec, sp, tp, diff.WithoutLineJoin())
	gotSum, got, st := ljRun(t, spec, sp, tp)
	if !st.LineJoin || st.Refetched < 6000 {
		t.Fatalf("line join %t, %d rows read again", st.LineJoin, st.Refetched)
	}
	ljSame(t, "line join", gotSum, wantSum, got, want)
	if gotSum.DuplicateKeys != 2 || gotSum.Matched != 3000 {
		t.Fatalf("%+v", gotSum)
	}
	if left, _ := os.ReadDir(spec.TempDir); len(left) > 0 {
		t.Errorf("spill files left: %v", left)
	}
}

// TestLineJoinUncheckedValuesNotReadAgain: values the quick checks do not pass but that
// parse (a boolean, a JSON value, a decimal with a sign or an exponent, a zoned
// timestamp) let equal lines be matched without being read again; values that do not
// parse are invalid rows, as without the line join.
func TestLineJoinUncheckedValuesNotReadAgain(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,ok,amount,doc,at\n")
	tg.WriteString("id,ok,amount,doc,at\n")
	for i := range 4000 {
		ok := []string{"true", "false", "1", " T ", "no"}[i%5]
		amount := []string{"+1", "1e3", "-0.50", "7"}[i%4]
		doc := []string{`"{""a"":1}"`, "[1]", "null", `"{""b"": [true]}"`}[i%4]
		at := []string{"2026-01-02T03:04:05+02:00", "2026-01-02 03:04:05", "2026-01-02T03:04:05Z"}[i%3]
		switch i % 100 {
		case 7:
			ok = "maybe"
		case 8:
			amount = "1e"
		case 9:
			doc = "{"
		case 10:
			at = "2026-13-02T00:00:00Z"
		}
		line := fmt.Sprintf("k%d,%s,%s,%s,%s\n", i, ok, amount, doc, at)
		s.WriteString(line)
		if i%50 == 4 {
			line = fmt.Sprintf("k%d,true,%s,%s,%s\n", i, amount, doc, at)
		}
		tg.WriteString(line)
	}
	sp, tp := ljWritePair(t, s.String(), tg.String())
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash,
		Compare: []diff.Column{{Name: "ok", Type: diff.TypeBoolean}, {Name: "amount", Type: diff.TypeDecimal},
			{Name: "doc", Type: diff.TypeJSON}, {Name: "at", Type: diff.TypeTimestamp}}}
	wantSum, want, _ := ljRun(t, spec, sp, tp, diff.WithoutFingerprints())
	gotSum, got, st := ljRun(t, spec, sp, tp)
	if !st.LineJoin || st.Refetched > 600 {
		t.Fatalf("line join %t, %d of 8000 rows read again", st.LineJoin, st.Refetched)
	}
	ljSame(t, "line join", gotSum, wantSum, got, want)
	if wantSum.InvalidRows != 320 || wantSum.Mismatched == 0 {
		t.Fatalf("%+v", wantSum)
	}
}

// TestLineJoinRowsFarApart: a row of 17 MiB in the middle of both files puts every row
// after it more than 16 MiB past the previous row of its partition (a record's distance
// cannot say so: an escape record holds the offset). Rows on both sides of it, the same,
// different or on one side only, at the default budget and at the smallest (partitions
// split again), are reported as without the line join, where they are.
func TestLineJoinRowsFarApart(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,memo\n")
	tg.WriteString("id,amount,memo\n")
	big := strings.Repeat("m", 17<<20)
	for i := range 6000 {
		line := fmt.Sprintf("k%d,%d,m%d\n", i, i, i)
		if i == 3000 {
			line = fmt.Sprintf("k%d,%d,%s\n", i, i, big)
		}
		s.WriteString(line)
		switch {
		case i%97 == 5:
			fmt.Fprintf(&tg, "k%d,%d.5,m%d\n", i, i, i)
		case i%89 == 7:
		default:
			tg.WriteString(line)
		}
	}
	sp, tp := ljWritePair(t, s.String(), tg.String())
	for _, budget := range []int64{0, diff.MinMemoryBudget} {
		spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash, MemoryBudget: budget,
			TempDir: t.TempDir(), Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "memo"}}}
		wantSum, want, _ := ljRun(t, spec, sp, tp, diff.WithoutLineJoin())
		gotSum, got, st := ljRun(t, spec, sp, tp)
		what := fmt.Sprintf("budget %d", budget)
		if !st.LineJoin {
			t.Fatalf("%s: no line join", what)
		}
		ljSame(t, what, gotSum, wantSum, got, want)
		if wantSum.Mismatched != 62 || wantSum.MissingInTarget != 68 || wantSum.Matched != 6000-62-68 {
			t.Fatalf("%s: %+v", what, wantSum)
		}
	}
}

// TestLineJoinNullMarker: with a NULL marker (\N) the line join still takes the lines,
// where \N is NULL and an empty field the empty string: a \N key and an empty key are
// invalid rows, a typed \N is NULL, an empty typed value does not parse, a quoted "\N"
// is text. Each outcome is the one hash finds with every value kept.
func TestLineJoinNullMarker(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,day,memo\n")
	tg.WriteString("id,amount,day,memo\n")
	for i := range 300 {
		amount, day, memo := fmt.Sprint(i), "2026-01-02", fmt.Sprintf("m%d", i)
		switch i % 10 {
		case 1:
			amount = `\N`
		case 2:
			day = `\N`
		case 3:
			amount = "" // the empty string: not a decimal
		case 4:
			memo = `"\N"`
		case 5:
			memo = ""
		}
		id := fmt.Sprintf("k%d", i)
		switch i % 37 {
		case 1:
			id = `\N`
		case 2:
			id = ""
		}
		line := strings.Join([]string{id, amount, day, memo}, ",")
		s.WriteString(line + "\n")
		switch i % 7 {
		case 3:
			fmt.Fprintf(&tg, "%s,%s,%s,%s\n", id, amount, `\N`, memo) // the day NULL on this side
		case 4:
			fmt.Fprintf(&tg, "%s,%s,%s,\n", id, amount, day) // the memo empty
		case 5:
			if i%2 == 0 {
				continue // missing in target
			}
			fallthrough
		default:
			tg.WriteString(line + "\n")
		}
	}
	sp, tp := ljWritePair(t, s.String(), tg.String())
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash, Compare: []diff.Column{
		{Name: "amount", Type: diff.TypeDecimal}, {Name: "day", Type: diff.TypeDate}, {Name: "memo"}}}
	so := source.Options{NullMarker: `\N`}
	run := func(opts ...diff.Option) (diff.Summary, []string, diff.Stats) {
		t.Helper()
		sum, out, st, err := ljRandRun(t, spec, sp, tp, so, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return sum, out, st
	}
	wantSum, want, _ := run(diff.WithoutFingerprints())
	for range 4 { // the side that checks a line changes with the seeds of each run
		gotSum, got, st := run()
		if !st.LineJoin {
			t.Fatal("no line join with a NULL marker")
		}
		ljSame(t, "line join", gotSum, wantSum, got, want)
	}
	if wantSum.InvalidRows < 60 || wantSum.Mismatched < 40 || wantSum.MissingInTarget < 10 || wantSum.Matched < 100 {
		t.Fatalf("%+v", wantSum)
	}
}
