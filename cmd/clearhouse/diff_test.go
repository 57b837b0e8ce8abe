package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// pair is a generated dataset pair in one format.
type pair struct {
	dir      string
	format   source.Format
	expected expectedSet
}

type expectedSet struct {
	Summary       map[string]any   `json:"summary"`
	Discrepancies []map[string]any `json:"discrepancies"`
}

var (
	pairsMu sync.Mutex
	pairs_  = map[string]*pair{}
)

// generated returns (and caches for the test binary) a pair in a format, generated with
// the same seed in every format, so the same rows sit in the same order in each.
// genSeed is the seed of the generated pairs.
const genSeed = 42

func generated(t *testing.T, rows int, format source.Format, sorted, composite bool) *pair {
	t.Helper()
	name := fmt.Sprintf("%d-%s-sorted=%t-composite=%t", rows, format, sorted, composite)
	pairsMu.Lock()
	defer pairsMu.Unlock()
	if p, ok := pairs_[name]; ok {
		return p
	}
	dir := filepath.Join(os.TempDir(), "clearhouse-difftest-"+strconv.Itoa(os.Getpid()), name)
	cfg := gen.DefaultConfig(dir)
	cfg.Rows, cfg.Seed, cfg.Format, cfg.Sorted, cfg.Composite = rows, genSeed, format, sorted, composite
	if rows > 100000 {
		cfg.Inject = gen.AtRate(rows, 0.001)
	}
	if err := gen.Generate(cfg); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{dir: dir, format: format}
	if err := json.Unmarshal(b, &p.expected); err != nil {
		t.Fatal(err)
	}
	pairs_[name] = p
	return p
}

func TestMain(m *testing.M) {
	code := testdb.Run(m) // starts database servers on demand, stops them after

	_ = os.RemoveAll(filepath.Join(os.TempDir(), "clearhouse-difftest-"+strconv.Itoa(os.Getpid())))
	os.Exit(code)
}

func (p *pair) file(side string) string {
	return filepath.Join(p.dir, side+"."+string(p.format))
}

var positionNumber = regexp.MustCompile(`(\d+)$`)

// expectedFor is the expected set for source from a and target from b: a's set, with the
// positions of target-side outcomes taken from b's set (same rows, b's file naming). Rows
// with the same kind, side, key and reason are matched in file order.
func expectedFor(a, b *pair) []string {
	if a == b {
		return canonical(a.expected.Discrepancies)
	}
	group := func(d map[string]any) string {
		k, _ := json.Marshal(d["key"])
		return fmt.Sprint(d["kind"], "|", d["side"], "|", string(k), "|", d["reason"])
	}
	targetPositions := map[string][]string{}
	for _, d := range b.expected.Discrepancies {
		if d["side"] == "target" && d["position"] != nil {
			targetPositions[group(d)] = append(targetPositions[group(d)], d["position"].(string))
		}
	}
	for g := range targetPositions {
		slices.SortFunc(targetPositions[g], func(x, y string) int { return posNum(x) - posNum(y) })
	}
	var out []map[string]any
	used := map[string]int{}
	src := slices.Clone(a.expected.Discrepancies)
	slices.SortStableFunc(src, func(x, y map[string]any) int {
		if x["position"] == nil || y["position"] == nil {
			return 0
		}
		return posNum(x["position"].(string)) - posNum(y["position"].(string))
	})
	for _, d := range src {
		if d["side"] == "target" && d["position"] != nil {
			c := map[string]any{}
			for k, v := range d {
				c[k] = v
			}
			g := group(d)
			c["position"] = targetPositions[g][used[g]]
			used[g]++
			d = c
		}
		out = append(out, d)
	}
	return canonical(out)
}

func posNum(p string) int {
	n, _ := strconv.Atoi(positionNumber.FindString(p))
	return n
}

// canonical renders each discrepancy as canonical JSON, sorted: sets compare as lists.
func canonical(ds []map[string]any) []string {
	out := make([]string, 0, len(ds))
	for _, d := range ds {
		b, _ := json.Marshal(d) // map keys are sorted by encoding/json
		out = append(out, string(b))
	}
	slices.Sort(out)
	return out
}

// diffFlagsFor is the comparison the generator's expected set assumes.
func diffFlagsFor(composite bool, strategy string) diffFlags {
	f := diffFlags{
		keys:       []string{"id"},
		tolerances: []string{"amount=0.01"},
		timeTols:   []string{"booked_at=2s"},
		types:      []string{"value_date=date"},
		sensitive:  []string{"account"},
		strategy:   strategy,
	}
	if composite {
		f.keys = []string{"region", "id"}
	}
	return f
}

// runJSON runs the diff command's code path and parses its JSON output.
func runJSON(t *testing.T, r diffRun) (map[string]any, []string) {
	t.Helper()
	r.output = "json"
	if r.maskKey == nil {
		r.maskKey = gen.SeedMaskKey(genSeed) // expected.json's masks
	}
	var out, errOut bytes.Buffer
	err := runDiff(context.Background(), &out, &errOut, r)
	var ec exitCodeError
	if err != nil && (!errors.As(err, &ec) || ec.code != 1) {
		t.Fatalf("diff: %v\n%s", err, errOut.String())
	}
	var got expectedSet
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	return got.Summary, canonical(got.Discrepancies)
}

func assertSameSet(t *testing.T, wantSummary map[string]any, want []string, gotSummary map[string]any, got []string) {
	t.Helper()
	ws, _ := json.Marshal(wantSummary)
	gs, _ := json.Marshal(gotSummary)
	if string(ws) != string(gs) {
		t.Errorf("summary\n got %s\nwant %s", gs, ws)
	}
	if slices.Equal(got, want) {
		return
	}
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	t.Errorf("%d discrepancies, want %d\nmissing:\n  %s\nunexpected:\n  %s", len(got), len(want),
		strings.Join(first(missing, 10), "\n  "), strings.Join(first(extra, 10), "\n  "))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// TestDiffFindsExactlyTheGeneratedSet: for every pair of file formats and every
// strategy, the diff command returns exactly the generator's expected set.
func TestDiffFindsExactlyTheGeneratedSet(t *testing.T) {
	formats := []source.Format{source.FormatCSV, source.FormatJSONL, source.FormatParquet}
	for _, composite := range []bool{false, true} {
		for _, sorted := range []bool{true, false} {
			for _, fa := range formats {
				for _, fb := range formats {
					a := generated(t, 10000, fa, sorted, composite)
					b := generated(t, 10000, fb, sorted, composite)
					want := expectedFor(a, b)
					strategies := []string{"hash", "hash-spill", "auto"}
					if sorted {
						strategies = append(strategies, "merge")
					}
					for _, strategy := range strategies {
						name := fmt.Sprintf("%s-%s/sorted=%t/composite=%t/%s", fa, fb, sorted, composite, strategy)
						t.Run(name, func(t *testing.T) {
							r := diffRun{
								flags:  diffFlagsFor(composite, strings.TrimSuffix(strategy, "-spill")),
								srcURI: a.file("source"), tgtURI: b.file("target"),
								sorted: sorted, memory: 256 << 20, tempDir: t.TempDir(),
							}
							if strategy == "hash-spill" {
								r.memory = 64 << 10 // the smallest budget: forces spilling
							}
							gotSum, got := runJSON(t, r)
							assertSameSet(t, a.expected.Summary, want, gotSum, got)
						})
					}
				}
			}
		}
	}
}

// TestDiffMillionRows runs the same check at 1M rows (make test sets
// CLEARHOUSE_LONG_TESTS=1; plain `go test` skips it to stay quick).
func TestDiffMillionRows(t *testing.T) {
	if os.Getenv("CLEARHOUSE_LONG_TESTS") == "" {
		t.Skip("set CLEARHOUSE_LONG_TESTS=1 (make test does) to run the 1M-row check")
	}
	for _, tc := range []struct {
		format   source.Format
		sorted   bool
		strategy string
		memory   int64
	}{
		{source.FormatCSV, true, "merge", 256 << 20},
		{source.FormatCSV, false, "hash", 16 << 20}, // spills
		{source.FormatParquet, false, "hash", 256 << 20},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.format, tc.strategy), func(t *testing.T) {
			p := generated(t, 1000000, tc.format, tc.sorted, false)
			gotSum, got := runJSON(t, diffRun{
				flags:  diffFlagsFor(false, tc.strategy),
				srcURI: p.file("source"), tgtURI: p.file("target"),
				sorted: tc.sorted, memory: tc.memory, tempDir: t.TempDir(),
			})
			assertSameSet(t, p.expected.Summary, expectedFor(p, p), gotSum, got)
		})
	}
}

// TestDiffRecordsTheRun: --store records the run, its discrepancies and cases; a run
// that fails is recorded as failed with its reason.
func TestDiffRecordsTheRun(t *testing.T) {
	p := generated(t, 10000, source.FormatCSV, false, false)
	uri := "sqlite:" + filepath.Join(t.TempDir(), "results.db")
	r := diffRun{flags: diffFlagsFor(false, "hash"), srcURI: p.file("source"), tgtURI: p.file("target"),
		memory: 256 << 20, storeURI: uri, job: "demo", maskKey: gen.SeedMaskKey(genSeed)}
	gotSum, got := runJSON(t, r)

	s, err := store.Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	runs, err := s.Runs(context.Background(), "demo", 0)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs = %v, %v", runs, err)
	}
	run := runs[0]
	var storedSum map[string]any
	b, _ := json.Marshal(run.Summary)
	_ = json.Unmarshal(b, &storedSum)
	stored, _ := json.Marshal(storedSum)
	printed, _ := json.Marshal(gotSum)
	if run.State != store.RunDiscrepant || string(stored) != string(printed) {
		t.Errorf("stored run %s %s, printed summary %s", run.State, stored, printed)
	}
	storedSet := func(id string) []string {
		t.Helper()
		ds, err := s.Discrepancies(context.Background(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		var set []map[string]any
		for _, d := range ds {
			var m map[string]any
			_ = json.Unmarshal(d.AppendJSON(nil), &m)
			set = append(set, m)
		}
		return canonical(set)
	}
	if set := storedSet(run.ID); !slices.Equal(set, got) {
		t.Errorf("stored %d discrepancies, printed %d", len(set), len(got))
	}

	// The table shows a few; the store still gets every one.
	rt := r
	rt.output = "table"
	var table bytes.Buffer
	var ec exitCodeError
	if err := runDiff(context.Background(), &table, io.Discard, rt); !errors.As(err, &ec) || ec.code != 1 {
		t.Fatalf("diff with the table: %v", err)
	}
	runs, _ = s.Runs(context.Background(), "demo", 0)
	if set := storedSet(runs[0].ID); len(runs) != 2 || !slices.Equal(set, got) {
		t.Errorf("with the table: %d runs, the newest stored %d discrepancies, want %d", len(runs), len(set), len(got))
	}
	if !strings.Contains(table.String(), "mismatch") || strings.Count(table.String(), "\n") > 200 {
		t.Errorf("table output:\n%s", table.String())
	}

	// A target that cannot be read: the run is recorded as failed, with the reason.
	r.tgtURI = filepath.Join(t.TempDir(), "gone.csv")
	if err := runDiff(context.Background(), io.Discard, io.Discard, r); err == nil {
		t.Fatal("diff of a missing target succeeded")
	}
	runs, _ = s.Runs(context.Background(), "demo", 0)
	if len(runs) != 3 || runs[0].State != store.RunFailed || !strings.Contains(runs[0].Error, "gone.csv: no such file") {
		t.Errorf("newest run = %+v, want failed naming gone.csv", runs[0])
	}
}

// TestDiffStorePasswordStaysHidden: recording in a PostgreSQL store says where, without
// the password its URI carries.
func TestDiffStorePasswordStaysHidden(t *testing.T) {
	pg := testdb.NewPostgres(t)
	p := generated(t, 1000, source.FormatCSV, false, false)
	r := diffRun{flags: diffFlagsFor(false, "hash"), srcURI: p.file("source"), tgtURI: p.file("target"),
		memory: 256 << 20, storeURI: pg.URI(), job: "demo", output: "json"}
	var stderr bytes.Buffer
	var ec exitCodeError
	if err := runDiff(context.Background(), io.Discard, &stderr, r); !errors.As(err, &ec) || ec.code != 1 {
		t.Fatalf("diff: %v\n%s", err, stderr.String())
	}
	u, err := url.Parse(pg.URI())
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	if pw == "" || !strings.Contains(stderr.String(), "recorded as run demo-") || strings.Contains(stderr.String(), pw) {
		t.Errorf("stderr (password %d bytes):\n%s", len(pw), stderr.String())
	}
}

// TestDiffDatabases: the same generated pair, loaded into PostgreSQL (source) and
// MariaDB (target) and the other way round, gives exactly the expected set through the
// command's own code path, merged (both databases sort by the key in byte order) and
// hashed, and by checksum bisection (also what auto does for two databases). Positions
// of invalid rows name the scan row instead of a file line.
func TestDiffDatabases(t *testing.T) {
	ctx := context.Background()
	p := generated(t, 5000, source.FormatCSV, false, false)
	pg, maria := testdb.NewPostgres(t), testdb.NewMariaDB(t)
	// PostgreSQL through `clearhouse gen --load`, as a user would; MariaDB directly.
	var out bytes.Buffer
	genCmd, _ := newRootCommand()
	genCmd.SetOut(&out)
	genCmd.SetArgs([]string{"gen", "--dir", t.TempDir(), "--rows", "5000", "--seed", "42", "--load", pg.URI()})
	if err := genCmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("gen --load: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "loaded source into table source (") || !strings.Contains(out.String(), "loaded target into table target (") {
		t.Errorf("gen --load printed:\n%s", out.String())
	}
	for _, side := range []testdb.Side{testdb.Source, testdb.Target} {
		if _, err := testdb.LoadGenerated(ctx, maria, p.dir, side, string(side)); err != nil {
			t.Fatal(err)
		}
	}
	withoutPositions := func(set []string) []string {
		var out []string
		for _, d := range set {
			var m map[string]any
			_ = json.Unmarshal([]byte(d), &m)
			delete(m, "position")
			b, _ := json.Marshal(m)
			out = append(out, string(b))
		}
		slices.Sort(out)
		return out
	}
	want := withoutPositions(expectedFor(p, p))
	for _, pair := range []struct {
		name     string
		src, tgt *testdb.Database
	}{{"postgres-mariadb", pg, maria}, {"mariadb-postgres", maria, pg}} {
		// auto is checksum for two databases.
		for _, strategy := range []string{"merge", "hash", "checksum", "auto"} {
			t.Run(pair.name+"/"+strategy, func(t *testing.T) {
				gotSum, got := runJSON(t, diffRun{
					flags:  diffFlagsFor(false, strategy),
					srcURI: pair.src.URI(), tgtURI: pair.tgt.URI(),
					srcSQL: sqlSide{table: "source"}, tgtSQL: sqlSide{table: "target"},
					memory: 256 << 20, tempDir: t.TempDir(),
				})
				assertSameSet(t, p.expected.Summary, want, gotSum, withoutPositions(got))
			})
		}
	}
	// The table output names the strategy that ran: auto chose checksum.
	var out2, errOut bytes.Buffer
	err := runDiff(ctx, &out2, &errOut, diffRun{
		flags: diffFlagsFor(false, "auto"), srcURI: pg.URI(), tgtURI: maria.URI(), output: "table",
		srcSQL: sqlSide{table: "source"}, tgtSQL: sqlSide{table: "target"}, memory: 256 << 20, tempDir: t.TempDir(),
	})
	var ec exitCodeError
	if !errors.As(err, &ec) || ec.code != 1 || !strings.Contains(out2.String(), ", checksum strategy): ") {
		t.Errorf("auto: %v\n%s%s", err, out2.String(), errOut.String())
	}
	// checksum needs two databases.
	err = runDiff(ctx, &out2, &errOut, diffRun{flags: diffFlagsFor(false, "checksum"), srcURI: p.dir + "/source.csv", tgtURI: pg.URI(),
		output: "json", tgtSQL: sqlSide{table: "target"}, memory: 256 << 20})
	if err == nil || !strings.Contains(err.Error(), "--strategy checksum needs two database sides") {
		t.Errorf("checksum with a file: %v", err)
	}
}

// TestDiffStats: --stats prints one line to stderr after the run: the strategy, the rows
// read on each side and, for hash, the spills with a budget too small for the rows.
func TestDiffStats(t *testing.T) {
	p := generated(t, 10000, source.FormatJSONL, true, false)
	lines := func(side string) int {
		b, err := os.ReadFile(p.file(side))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(bytes.TrimSpace(b), []byte("\n")) + 1
	}
	src, tgt := lines("source"), lines("target")
	hashLine := regexp.MustCompile(fmt.Sprintf(`^stats: strategy hash, read %d source rows and %d target rows, `+
		`([0-9]+) spills, [0-9.]+ [KMG]?i?B spilled \(([0-9]+) bytes\), [0-9]+ repartitions, pool peak [0-9.]+ [KMG]?i?B of [0-9.]+ [KMG]?i?B `+
		`\(budget 64 KiB and 4\.0 KiB for the discrepancies, [0-9]+ partitions of [0-9.]+ [KMG]?i?B chunks\), rows kept as fingerprints, [0-9]+ read again, read phase [0-9.]+[µnm]?s, wall [0-9.]+[µnm]?s\n$`, src, tgt))
	// Local CSV and JSON Lines files can be read again: hash keeps fingerprints and says how
	// many rows it read again (for a sorted pair too, read through the Ordered wrapper).
	pc := generated(t, 10000, source.FormatCSV, false, false)
	fpLine := regexp.MustCompile(`^stats: strategy hash, .*\), line join: rows kept as fingerprints, [1-9][0-9]* read again, read phase [0-9.]+[µnm]?s, wall [0-9.]+[µnm]?s\n$`)
	mergeLine := regexp.MustCompile(fmt.Sprintf(`^stats: strategy merge, read %d source rows and %d target rows, wall [0-9.]+[µnm]?s\n$`, src, tgt))
	for _, tc := range []struct {
		strategy string
		stats    bool
		want     *regexp.Regexp
		csv      bool
	}{
		{"hash", true, hashLine, false},
		{"merge", true, mergeLine, false},
		{"hash", false, regexp.MustCompile(`^$`), false},
		{"hash", true, fpLine, true},
	} {
		t.Run(fmt.Sprintf("%s/stats=%t/csv=%t", tc.strategy, tc.stats, tc.csv), func(t *testing.T) {
			p, sorted := p, true
			if tc.csv {
				p, sorted = pc, false
			}
			var out, errOut bytes.Buffer
			err := runDiff(t.Context(), &out, &errOut, diffRun{
				flags:  diffFlagsFor(false, tc.strategy),
				srcURI: p.file("source"), tgtURI: p.file("target"), sorted: sorted,
				output: "json", memory: 64 << 10, tempDir: t.TempDir(), stats: tc.stats, maskKey: gen.SeedMaskKey(genSeed),
			})
			var ec exitCodeError
			if err != nil && (!errors.As(err, &ec) || ec.code != 1) {
				t.Fatalf("diff: %v\n%s", err, errOut.String())
			}
			m := tc.want.FindStringSubmatch(errOut.String())
			if m == nil {
				t.Fatalf("stderr %q, want %s", errOut.String(), tc.want)
			}
			if tc.strategy == "hash" && tc.stats && !tc.csv && (m[1] == "0" || m[2] == "0") {
				t.Errorf("no spill at a 64KiB budget: %s", m[0])
			}
			var got expectedSet
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			assertSameSet(t, p.expected.Summary, canonical(p.expected.Discrepancies), got.Summary, canonical(got.Discrepancies))
		})
	}
}

// The progress bar counts rows, then says which partitions of the hash join are done.
func TestDiffBarProgress(t *testing.T) {
	bar := newBar(io.Discard)
	show := barProgress(bar)
	show(diff.Progress{SourceRows: 10, TargetRows: 5, Phase: diff.PhaseReading})
	if s := bar.State(); s.Description != "comparing" || s.CurrentBytes != 15 {
		t.Errorf("reading: %+v", s)
	}
	show(diff.Progress{SourceRows: 20, TargetRows: 30, Phase: diff.PhaseJoining, PartitionsJoined: 12, Partitions: 64})
	if s := bar.State(); s.Description != "joining 12/64 partitions" || s.CurrentBytes != 50 {
		t.Errorf("joining: %+v", s)
	}
}

// A JSON Lines key that the first line leaves out is still a column (the columns are
// learned from the lines read with it), so a value only some rows have is compared,
// never dropped into a false "no discrepancies"; --source-columns/--target-columns
// declare the columns instead, and other keys are then left out on purpose.
func TestDiffJSONLColumns(t *testing.T) {
	dir := t.TempDir()
	src, tgt := filepath.Join(dir, "s.jsonl"), filepath.Join(dir, "t.jsonl")
	for path, data := range map[string]string{
		src: `{"id":"1","a":"x"}` + "\n" + `{"id":"2","a":"y","b":"3"}` + "\n",
		tgt: `{"id":"1","a":"x","b":"4"}` + "\n" + `{"id":"2","a":"y","b":"3"}` + "\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		want map[string]any
	}{
		{nil, map[string]any{"matched": 1.0, "mismatched": 1.0}},
		{[]string{"--source-columns", "id,a", "--target-columns", "id,a"}, map[string]any{"matched": 2.0, "mismatched": 0.0}},
	} {
		cmd, _ := newRootCommand()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append([]string{"diff", "--source", src, "--target", tgt, "--key", "id", "--output", "json", "--progress=false"}, tc.args...))
		_ = cmd.Execute() // exit status 1 when discrepancies are found
		var got struct{ Summary map[string]any }
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%v: output %q (%v), stderr %q", tc.args, out.String(), err, errOut.String())
		}
		for k, v := range tc.want {
			if got.Summary[k] != v {
				t.Errorf("%v: summary %v, want %s = %v", tc.args, got.Summary, k, v)
			}
		}
	}
}

// Errors name the files: a key missing on one side says which files the sides are, and
// a read error gives its position once.
func TestDiffErrorsNameTheFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("id,a\n1,x\n2,y\n"))
	_ = zw.Close()
	src, upper, trunc := write("s.csv", "id,a\n1,x\n"), write("t.csv", "ID,a\n1,x\n"), write("t.csv.gz", gz.String()[:20])
	for _, c := range []struct{ tgt, want string }{
		{upper, `diff: invalid spec: target: column "id" (keys[0].name) is not among the target columns [ID a] (source s.csv, target t.csv)`},
		{trunc, `diff: read target at t.csv.gz line `},
	} {
		var ec exitCodeError
		err := runDiff(context.Background(), io.Discard, io.Discard, diffRun{flags: diffFlags{keys: []string{"id"}}, srcURI: src, tgtURI: c.tgt, output: "json"})
		if errors.As(err, &ec) || err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Count(err.Error(), "t.csv.gz line") > 1 {
			t.Errorf("%s: %v, want %q", c.tgt, err, c.want)
		}
	}
}

// --quote sets the CSV quote character of both inputs.
func TestDiffQuote(t *testing.T) {
	dir := t.TempDir()
	uri := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("id,a\n1,'x,y'\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	r := diffRun{flags: diffFlags{keys: []string{"id"}}, srcURI: uri("s.csv"), tgtURI: uri("t.csv"),
		srcOpts: source.Options{Quote: '\''}, tgtOpts: source.Options{Quote: '\''}}
	if sum, ds := runJSON(t, r); sum["matched"] != 1.0 || len(ds) != 0 {
		t.Errorf("with --quote \"'\": %v %v", sum, ds)
	}
	r.srcOpts, r.tgtOpts = source.Options{}, source.Options{}
	if sum, _ := runJSON(t, r); sum["invalidRows"] != 2.0 {
		t.Errorf("without --quote: %v", sum)
	}
}

// TestDiffStoreMasksWithItsKey: without a mask key, runs recorded in a store mask with
// the store's key, the same from run to run (their cases match), not with a key drawn
// per run nor with anything a reader of the output could guess.
func TestDiffStoreMasksWithItsKey(t *testing.T) {
	p := generated(t, 10000, source.FormatCSV, false, false)
	uri := "sqlite:" + filepath.Join(t.TempDir(), "results.db")
	var sets [2][]string
	for i := range sets {
		sets[i] = runStored(t, p, uri, "demo")
	}
	if !slices.Equal(sets[0], sets[1]) {
		t.Fatal("two runs recorded in one store masked differently")
	}
	key := storeMaskKey(t, uri)
	// The same as a run given the store's key for jobs without a namespace.
	_, withKey := runJSON(t, diffRun{flags: diffFlagsFor(false, "hash"), srcURI: p.file("source"), tgtURI: p.file("target"),
		memory: 256 << 20, maskKey: runner.NamespaceMaskKey(key, "")})
	if !slices.Equal(withKey, sets[0]) {
		t.Error("the store's runs did not mask with runner.NamespaceMaskKey(the store's key, \"\")")
	}
	if slices.Equal(expectedFor(p, p), sets[0]) {
		t.Error("the store's runs masked with the seed's key")
	}
}

// TestDiffStoreJobInANamespaceMasksAsTheOperator: a CLI run recorded under an operator
// job's name (--job namespace/name) masks with the key of the job's namespace, as the
// operator's runs of that job do; otherwise every case with a sensitive key would be
// resolved by the CLI run and opened again under other masks.
func TestDiffStoreJobInANamespaceMasksAsTheOperator(t *testing.T) {
	p := generated(t, 10000, source.FormatCSV, false, false)
	uri := "sqlite:" + filepath.Join(t.TempDir(), "results.db")
	got := runStored(t, p, uri, "fin/ledger-vs-bank")
	key := storeMaskKey(t, uri)
	_, operator := runJSON(t, diffRun{flags: diffFlagsFor(false, "hash"), srcURI: p.file("source"), tgtURI: p.file("target"),
		memory: 256 << 20, maskKey: runner.NamespaceMaskKey(key, "fin")})
	if !slices.Equal(got, operator) {
		t.Error("a CLI run recorded as fin/ledger-vs-bank did not mask with namespace fin's key")
	}
}

// runStored runs hash on p without a mask key, recorded in the store at uri as job,
// and returns its discrepancies (canonical).
func runStored(t *testing.T, p *pair, uri, job string) []string {
	t.Helper()
	var out bytes.Buffer
	err := runDiff(t.Context(), &out, io.Discard, diffRun{flags: diffFlagsFor(false, "hash"), srcURI: p.file("source"),
		tgtURI: p.file("target"), memory: 256 << 20, storeURI: uri, job: job, output: "json"})
	if ec := (exitCodeError{}); !errors.As(err, &ec) || ec.code != 1 {
		t.Fatalf("diff recorded as %s: %v", job, err)
	}
	var got expectedSet
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	return canonical(got.Discrepancies)
}

// storeMaskKey is the mask key of the store at uri.
func storeMaskKey(t *testing.T, uri string) []byte {
	t.Helper()
	s, err := store.Open(t.Context(), uri)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	key, err := s.MaskKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return key
}
