package diff_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// advRun runs a hash diff of two CSV files written from the given contents.
func advRun(t *testing.T, spec diff.Spec, srcText, tgtText string, opts ...diff.Option) (diff.Summary, []diff.Discrepancy, error) {
	t.Helper()
	sp, tp := advWrite(t, srcText, tgtText)
	src, tgt := advOpen(t, sp, tp)
	if spec.Strategy == "" {
		spec.Strategy = diff.StrategyHash
	}
	if spec.MaskKey == nil {
		spec.MaskKey = []byte("clearhouse test mask key, 32 bytes")
	}
	var c diff.Collect
	sum, err := diff.Run(t.Context(), spec, src, tgt, &c, opts...)
	diff.SortDiscrepancies(c.Discrepancies)
	return sum, c.Discrepancies, err
}

// advWrite writes the two CSV texts to files and returns their paths.
func advWrite(t *testing.T, srcText, tgtText string) (sp, tp string) {
	t.Helper()
	dir := t.TempDir()
	sp, tp = filepath.Join(dir, "s.csv"), filepath.Join(dir, "t.csv")
	for _, f := range []struct{ path, text string }{{sp, srcText}, {tp, tgtText}} {
		if err := os.WriteFile(f.path, []byte(f.text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return sp, tp
}

// advOpen opens both files, closed when the test ends.
func advOpen(t *testing.T, sp, tp string) (src, tgt diff.Reader) {
	t.Helper()
	rds := make([]diff.Reader, 2)
	for i, p := range []string{sp, tp} {
		rd, err := source.Open(t.Context(), p, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rd.Close() })
		rds[i] = rd
	}
	return rds[0], rds[1]
}

func advSpec() diff.Spec {
	return diff.Spec{Keys: []diff.Column{{Name: "id"}},
		Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "name"}}}
}

// Same values, spelled with CRLF vs LF, a BOM on one side, quoted vs unquoted: all
// match, with and without fingerprints; and a one-byte difference is still found.
func TestAdversitySpellingsWithFingerprints(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,name\n")
	tg.WriteString("\xEF\xBB\xBFid,amount,name\r\n")
	for i := range 300 {
		fmt.Fprintf(&s, "k%d,%d.5,name%d\n", i, i, i)
		switch i % 3 {
		case 0:
			fmt.Fprintf(&tg, "k%d,%d.5,name%d\r\n", i, i, i)
		case 1:
			fmt.Fprintf(&tg, "\"k%d\",\"%d.50\",\"name%d\"\r\n", i, i, i)
		case 2:
			fmt.Fprintf(&tg, "k%d,%d.5,\"name%d\"\n", i, i, i)
		}
	}
	for _, opts := range [][]diff.Option{nil, {diff.WithoutFingerprints()}} {
		sum, ds, err := advRun(t, advSpec(), s.String(), tg.String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Matched != 300 || len(ds) != 0 {
			t.Fatalf("matched %d of 300, discrepancies %v", sum.Matched, ds)
		}
	}
	// One difference in a quoted value on the CRLF side.
	bad := strings.Replace(tg.String(), "\"name1\"", "\"name1 \"", 1)
	sum, ds, err := advRun(t, advSpec(), s.String(), bad)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Mismatched != 1 || len(ds) != 1 || ds[0].Key[0].Value.Text != "k1" {
		t.Fatalf("want one mismatch on k1, got %+v %v", sum, ds)
	}
}

// A record far larger than the memory budget: a clear error or a correct result,
// never a wrong one.
func TestAdversityHugeRecordSmallBudget(t *testing.T) {
	big := strings.Repeat("x", 5<<20)
	src := "id,amount,name\na,1,small\nb,2," + big + "\nc,3,z\n"
	tgt := "id,amount,name\na,1,small\nb,2," + big + "y\nc,3,z\n"
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	sum, ds, err := advRun(t, spec, src, tgt)
	if err != nil {
		if !strings.Contains(err.Error(), "memory") && !strings.Contains(err.Error(), "budget") && !strings.Contains(err.Error(), "large") {
			t.Fatalf("error does not say what is wrong: %v", err)
		}
		t.Logf("refused: %v", err)
		return
	}
	if sum.Matched != 2 || sum.Mismatched != 1 || len(ds) != 1 || ds[0].Key[0].Value.Text != "b" {
		t.Fatalf("want 2 matched, 1 mismatch on b; got %+v", sum)
	}
}

// One key on thousands of rows on both sides, under a small budget: one duplicate_key
// outcome per side with the right counts, every time.
func TestAdversityOneKeyManyRows(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,name\n")
	tg.WriteString("id,amount,name\n")
	const n = 4000
	for i := range n {
		fmt.Fprintf(&s, "dup,%d,%s\n", i, strings.Repeat("p", 40))
		fmt.Fprintf(&tg, "dup,%d,%s\n", i, strings.Repeat("q", 40))
	}
	for i := range 2000 {
		fmt.Fprintf(&s, "u%d,1,a\n", i)
		fmt.Fprintf(&tg, "u%d,1,a\n", i)
	}
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	for _, opts := range [][]diff.Option{nil, {diff.WithoutFingerprints()}} {
		sum, ds, err := advRun(t, spec, s.String(), tg.String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Matched != 2000 || sum.DuplicateKeys != 2 || len(ds) != 2 || ds[0].Count != n || ds[1].Count != n {
			t.Fatalf("got %+v %v", sum, ds)
		}
	}
}

// A temp dir that cannot be written: a clear error, never a result.
func TestAdversityUnwritableTempDir(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,name\n")
	tg.WriteString("id,amount,name\n")
	for i := range 20000 {
		fmt.Fprintf(&s, "k%d,%d,%s\n", i, i, strings.Repeat("v", 30))
		fmt.Fprintf(&tg, "k%d,%d,%s\n", i, i, strings.Repeat("v", 30))
	}
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	spec.TempDir = filepath.Join(t.TempDir(), "no", "such", "dir")
	sum, _, err := advRun(t, spec, s.String(), tg.String())
	if err == nil {
		t.Fatalf("no error; summary %+v", sum)
	}
	t.Logf("error: %v", err)
}

// The source file changes between the read and the reading again (same size): the run
// fails saying so, or compares what it read first; it never mis-compares.
func TestAdversityFileRewrittenDuringRun(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,name\n")
	tg.WriteString("id,amount,name\n")
	for i := range 200 {
		fmt.Fprintf(&s, "k%03d,1,aaaa\n", i)
		fmt.Fprintf(&tg, "k%03d,1,%s\n", i, map[bool]string{true: "bbbb", false: "aaaa"}[i == 7])
	}
	sp, tp := advWrite(t, s.String(), tg.String())
	src, tgt := advOpen(t, sp, tp)
	spec := advSpec()
	spec.Strategy = diff.StrategyHash
	spec.MaskKey = []byte("clearhouse test mask key, 32 bytes")
	var c diff.Collect
	// Rewrite the target (same length, k007's row now equal to the source's) once read.
	rewrite := strings.Replace(tg.String(), "k007,1,bbbb", "k007,1,aaaa", 1)
	w := &eofHook{Reader: tgt, at: func() {
		if err := os.WriteFile(tp, []byte(rewrite), 0o644); err != nil {
			t.Error(err)
		}
	}}
	_, err := diff.Run(context.Background(), spec, src, w, &c)
	if !w.fired {
		t.Fatal("the target was not read through Next")
	}
	t.Logf("err %v, discrepancies %d", err, len(c.Discrepancies))
	if err == nil {
		// Fine only when the rows compared were the rows read first.
		if len(c.Discrepancies) != 1 {
			t.Fatalf("no error and %d discrepancies", len(c.Discrepancies))
		}
		return
	}
	if !strings.Contains(err.Error(), "changed during the run") {
		t.Fatalf("error does not say the input changed: %v", err)
	}
}

// eofHook calls at when its reader reaches the end.
type eofHook struct {
	diff.Reader
	at    func()
	fired bool
}

func (e *eofHook) Next() ([]diff.Cell, error) {
	c, err := e.Reader.Next()
	if err != nil && !e.fired {
		e.fired = true
		e.at()
	}
	return c, err
}

func (e *eofHook) Unwrap() diff.Reader { return e.Reader }

func advBig(n int, change func(i int) bool) (string, string) {
	var s, tg strings.Builder
	s.WriteString("id,amount,name\n")
	tg.WriteString("id,amount,name\n")
	for i := range n {
		fmt.Fprintf(&s, "k%d,%d,%s\n", i, i, strings.Repeat("v", 30))
		v := i
		if change != nil && change(i) {
			v++
		}
		fmt.Fprintf(&tg, "k%d,%d,%s\n", i, v, strings.Repeat("v", 30))
	}
	return s.String(), tg.String()
}

// A temp dir that fills up mid-spill (ADVERSITY_SMALL_DIR, a small tmpfs): an error,
// and no spill file left behind.
func TestAdversityTempDirFull(t *testing.T) {
	dir := os.Getenv("ADVERSITY_SMALL_DIR")
	if dir == "" {
		t.Skip("ADVERSITY_SMALL_DIR not set")
	}
	s, tg := advBig(60000, nil)
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	spec.TempDir = dir
	for _, opts := range [][]diff.Option{nil, {diff.WithoutFingerprints()}} {
		sum, _, err := advRun(t, spec, s, tg, opts...)
		if err == nil {
			t.Fatalf("no error; summary %+v", sum)
		}
		t.Logf("error: %v", err)
		ents, _ := os.ReadDir(dir)
		if len(ents) != 0 {
			t.Fatalf("left in the temp dir: %v", ents)
		}
	}
}

// Cancelled mid-run: context.Canceled, and no spill file left behind.
func TestAdversityCancelLeavesNothing(t *testing.T) {
	s, tg := advBig(40000, nil)
	dir := t.TempDir()
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	spec.TempDir = dir
	spec.Strategy = diff.StrategyHash
	spec.MaskKey = []byte("clearhouse test mask key, 32 bytes")
	sp, tp := advWrite(t, s, tg)
	for _, phase := range []int64{1000, 40000} {
		src, tgt := advOpen(t, sp, tp)
		ctx, cancel := context.WithCancel(t.Context())
		h := &countHook{Reader: tgt, n: phase, at: cancel}
		sum, err := diff.Run(ctx, spec, src, h, &diff.Collect{})
		cancel()
		if err == nil {
			t.Fatalf("phase %d: no error, summary %+v", phase, sum)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 0 {
			t.Fatalf("left in the temp dir: %v", ents)
		}
	}
}

type countHook struct {
	diff.Reader
	n, i int64
	at   func()
}

func (e *countHook) Next() ([]diff.Cell, error) {
	c, err := e.Reader.Next()
	e.i++
	if e.i == e.n {
		e.at()
	}
	return c, err
}

func (e *countHook) Unwrap() diff.Reader { return e.Reader }

// maxDiscrepancies=1 under spilling: the same first discrepancy and counts every time.
func TestAdversityMaxDiscrepanciesDeterministic(t *testing.T) {
	s, tg := advBig(30000, func(i int) bool { return i%997 == 3 })
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	spec.MaxDiscrepancies = 1
	var first string
	for i := range 4 {
		var opts []diff.Option
		if i%2 == 1 {
			opts = append(opts, diff.WithoutFingerprints())
		}
		sum, ds, err := advRun(t, spec, s, tg, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if !sum.Truncated || len(ds) != 1 {
			t.Fatalf("want truncated with 1 discrepancy, got %+v %d", sum, len(ds))
		}
		got := fmt.Sprintf("%+v %s", sum, ds[0].AppendJSON(nil))
		if i == 0 {
			first = got
		} else if got != first {
			t.Fatalf("run %d differs:\n%s\n%s", i, first, got)
		}
	}
}

// Files with only a header (and one without a final line end): nothing to compare.
func TestAdversityHeaderOnly(t *testing.T) {
	for _, tc := range [][2]string{{"id,amount,name\n", "id,amount,name\n"}, {"id,amount,name", "id,amount,name\r\n"}} {
		sum, ds, err := advRun(t, advSpec(), tc[0], tc[1])
		if err != nil || sum.Compared != 0 || len(ds) != 0 {
			t.Fatalf("%q: %+v %v %v", tc, sum, ds, err)
		}
	}
	sum, ds, err := advRun(t, advSpec(), "id,amount,name\n", "id,amount,name\na,1,x")
	if err != nil || sum.MissingInSource != 1 || len(ds) != 1 {
		t.Fatalf("%+v %v %v", sum, ds, err)
	}
}

// Long quoted and multi-line records, equal and differing late in the record, under a
// small budget with fingerprints: the mismatches are found, the equal rows match.
func TestAdversityLongQuotedRecords(t *testing.T) {
	big := strings.Repeat("q,\"\"", 300<<10)
	multi := strings.Repeat("line\n", 20000)
	src := "id,amount,name\na,1,\"" + big + "\"\nb,2,\"" + big + "\"\nc,3,\"" + multi + "\"\nd,4,\"" + multi + "\"\n"
	tgt := "id,amount,name\na,1,\"" + big + "\"\nb,2,\"" + big + "x\"\nc,3,\"" + multi + "\"\r\nd,4,\"" + multi + "x\"\n"
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	for _, opts := range [][]diff.Option{nil, {diff.WithoutFingerprints()}} {
		sum, ds, err := advRun(t, spec, src, tgt, opts...)
		if err != nil && opts != nil && strings.Contains(err.Error(), "does not fit in the memory budget") {
			continue // without fingerprints, rows larger than the budget are refused
		}
		if err != nil {
			t.Fatal(err)
		}
		if sum.Matched != 2 || sum.Mismatched != 2 || len(ds) != 2 || ds[0].Key[0].Value.Text != "b" || ds[1].Key[0].Value.Text != "d" {
			t.Fatalf("got %+v", sum)
		}
	}
}

// The target truncated once read, with a row to read again: the run fails.
func TestAdversityFileTruncatedDuringRun(t *testing.T) {
	s, tg := advBig(200, func(i int) bool { return i == 150 })
	sp, tp := advWrite(t, s, tg)
	src, tgt := advOpen(t, sp, tp)
	spec := advSpec()
	spec.Strategy = diff.StrategyHash
	spec.MaskKey = []byte("clearhouse test mask key, 32 bytes")
	w := &eofHook{Reader: tgt, at: func() {
		if err := os.Truncate(tp, 100); err != nil {
			t.Error(err)
		}
	}}
	var c diff.Collect
	sum, err := diff.Run(t.Context(), spec, src, w, &c)
	if err == nil {
		t.Fatalf("no error: %+v", sum)
	}
	t.Logf("error: %v", err)
}

// Keys whose hashes share their low 12 bits (the partition bits of the first levels at
// the smallest budget), under spilling: every key decided right.
func TestAdversityLowBitCollisions(t *testing.T) {
	var keys []string
	for i := 0; len(keys) < 1500; i++ {
		k := fmt.Sprintf("c%d", i)
		if xxhash.Sum64(append([]byte{byte(len(k))}, k...))&0xfff == 0 {
			keys = append(keys, k)
		}
	}
	var s, tg strings.Builder
	s.WriteString("id,amount,name\n")
	tg.WriteString("id,amount,name\n")
	for i, k := range keys {
		if i%50 != 1 {
			fmt.Fprintf(&s, "%s,%d,%s\n", k, i, strings.Repeat("v", 30))
		}
		v := i
		if i%50 == 2 {
			v++
		}
		if i%50 != 3 {
			fmt.Fprintf(&tg, "%s,%d,%s\n", k, v, strings.Repeat("v", 30))
		}
	}
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	for _, opts := range [][]diff.Option{nil, {diff.WithoutFingerprints()}} {
		sum, ds, err := advRun(t, spec, s.String(), tg.String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Matched != 1500-90 || sum.Mismatched != 30 || sum.MissingInSource != 30 || sum.MissingInTarget != 30 || len(ds) != 90 {
			t.Fatalf("got %+v", sum)
		}
	}
}

// failingReader returns its rows, then err.
type failingReader struct {
	rows [][]diff.Cell
	i    int
	err  error
}

func (r *failingReader) Columns() []string { return []string{"id", "amount", "name"} }
func (r *failingReader) Next() ([]diff.Cell, error) {
	if r.i >= len(r.rows) {
		return nil, r.err
	}
	r.i++
	return r.rows[r.i-1], nil
}
func (r *failingReader) Position() string { return fmt.Sprintf("row %d", r.i) }
func (r *failingReader) Close() error     { return nil }

// A side whose reader fails with an error that wraps context.Canceled (its own
// connection's context, say) while the run's context is live: the run fails, never
// compares what was read so far as if it were everything.
func TestAdversityReaderCanceledErrorFailsRun(t *testing.T) {
	mk := func(n int, err error) *failingReader {
		r := &failingReader{err: err}
		for i := range n {
			r.rows = append(r.rows, []diff.Cell{{Text: fmt.Sprintf("k%03d", i)}, {Text: "1"}, {Text: "x"}})
		}
		return r
	}
	readErr := fmt.Errorf("source: fetching page 2: %w", context.Canceled)
	for _, strategy := range []diff.Strategy{diff.StrategyHash, diff.StrategyMerge} {
		spec := advSpec()
		spec.Strategy = strategy
		spec.MaskKey = []byte("clearhouse test mask key, 32 bytes")
		var c diff.Collect
		sum, err := diff.Run(t.Context(), spec, mk(10, readErr), mk(10, io.EOF), &c)
		if err == nil {
			t.Errorf("%s: no error; summary %+v", strategy, sum)
		}
	}
}

// Keys longer than a chunk (1 KiB at the smallest budget), many of them, under spilling.
func TestAdversityKeysLongerThanChunk(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,name\n")
	tg.WriteString("id,amount,name\n")
	const n = 400
	for i := range n {
		k := fmt.Sprintf("%05d%s", i, strings.Repeat("K", 3000+i))
		if i%10 != 1 {
			fmt.Fprintf(&s, "%s,%d,x\n", k, i)
		}
		v := i
		if i%10 == 2 {
			v++
		}
		if i%10 != 3 {
			fmt.Fprintf(&tg, "%s,%d,x\r\n", k, v)
		}
	}
	spec := advSpec()
	spec.MemoryBudget = diff.MinMemoryBudget
	for _, opts := range [][]diff.Option{nil, {diff.WithoutFingerprints()}} {
		sum, ds, err := advRun(t, spec, s.String(), tg.String(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Matched != n-3*n/10 || sum.Mismatched != n/10 || sum.MissingInSource != n/10 || sum.MissingInTarget != n/10 || len(ds) != 3*n/10 {
			t.Fatalf("got %+v", sum)
		}
	}
}

// Last records without a line end, with a lone CR, with CRLF: read again right.
func TestAdversityLastLineEnds(t *testing.T) {
	for _, tc := range []struct{ src, tgt string }{
		{"id,amount,name\r\na,1,x", "id,amount,name\na,2,x\r\n"},
		{"id,amount,name\na,1,x\r", "id,amount,name\na,2,x"},
		{"id,amount,name\na,1,\"x\"\r", "id,amount,name\na,2,x\n"},
	} {
		for _, opts := range [][]diff.Option{nil, {diff.WithoutFingerprints()}} {
			sum, ds, err := advRun(t, advSpec(), tc.src, tc.tgt, opts...)
			if err != nil {
				t.Fatalf("%q: %v", tc, err)
			}
			if sum.Mismatched != 1 || len(ds) != 1 || len(ds[0].Columns) != 1 || ds[0].Columns[0].Name != "amount" {
				t.Fatalf("%q: %+v %v", tc, sum, ds)
			}
		}
	}
}
