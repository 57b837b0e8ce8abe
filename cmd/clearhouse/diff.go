package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/clearhouse-dev/clearhouse/internal/checksum"
	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/spool"
)

// tableRows is how many discrepancies the table output lists.
const tableRows = 20

func newDiffCommand() *cobra.Command {
	var f diffFlags
	var srcURI, tgtURI, srcFormat, tgtFormat, output, memory, delimiter, quote, nullMarker, tempDir string
	var srcColumns, tgtColumns []string
	var sorted, progress, stats bool
	var cs checksum.Options
	var storeURI, job, maskKeyFile string
	var srcSQL, tgtSQL sqlSide
	cmd := &cobra.Command{
		Use:   "diff --source URI --target URI --key COL [flags]",
		Short: "Compare two datasets key by key and column by column",
		Long: `Diff compares a source dataset with a target dataset, key by key and column by
column, and reports every discrepancy: missing in target, missing in source, mismatch
(with both values), duplicate key and invalid row.

URIs: file:///abs/path or a plain path, or http(s)://; the format comes from the
extension (.csv, .tsv, .jsonl, .ndjson, .parquet, optionally .gz) unless
--source-format/--target-format say otherwise. In CSV an unquoted empty field is NULL
and a quoted empty field ("") is the empty string.

Databases: postgres://user@host:port/db or mysql://user@host:port/db with
--source-table (or --source-query) and optionally --source-filter, likewise for the
target. The password may come from CLEARHOUSE_SOURCE_PASSWORD and
CLEARHOUSE_TARGET_PASSWORD instead of the URI. Databases sort by the key in byte order
themselves, so two database sides are merged in constant memory.

Strategies: merge (both inputs sorted by the key), hash (any order, spilling to disk
past --memory), checksum (two database sides: each database sums its rows per key
range and bucket, and only the rows of buckets whose sums differ are read and merged;
same outcomes as merge, far fewer rows read when the tables are mostly equal). auto
picks checksum when both sides are databases (reading every row instead when the
keys rule checksums out: a trimmed or case-folded key, a float key, wall-clock
timestamps outside UTC), else merge when both inputs are sorted by the key, else
hash. Tune checksum with --segment-rows, --bisection-factor and --concurrency.

Without --compare every non-key column present on both sides (after --map) is
compared as text; --type, a tolerance or --trim/--ignore-case refine a column.

Exit status: 0 no discrepancies, 1 discrepancies found, 2 error.`,
		Example: `  clearhouse diff --source ledger.csv --target bank.csv --key id \
      --tolerance amount=0.01 --time-tolerance booked_at=2s --type value_date=date
  clearhouse diff --source a.parquet --target b.jsonl --key region --key id \
      --map amount=settled_amount --sensitive account --output jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if srcURI == "" || tgtURI == "" {
				return errors.New("--source and --target are required")
			}
			budget, err := humanize.ParseBytes(memory)
			if err != nil {
				return fmt.Errorf("--memory %q: want a size such as 256MiB", memory)
			}
			if budget < diff.MinMemoryBudget {
				return fmt.Errorf("--memory %q: want at least %s, such as 256MiB", memory, humanize.IBytes(diff.MinMemoryBudget))
			}
			switch output {
			case "table", "json", "jsonl", "csv":
			default:
				return fmt.Errorf("--output %q: want table, json, jsonl or csv", output)
			}
			opts := func(format string, columns []string) (source.Options, error) {
				o := source.Options{Format: source.Format(strings.ToLower(format)), NullMarker: nullMarker, Columns: columns}
				if delimiter != "" {
					if len(delimiter) != 1 {
						return o, fmt.Errorf("--delimiter %q: want one character", delimiter)
					}
					o.Delimiter = rune(delimiter[0])
				}
				if quote != "" {
					if len(quote) != 1 {
						return o, fmt.Errorf("--quote %q: want one character", quote)
					}
					o.Quote = rune(quote[0])
				}
				return o, nil
			}
			so, err := opts(srcFormat, srcColumns)
			if err != nil {
				return err
			}
			mk, err := maskKey(maskKeyFile)
			if err != nil {
				return err
			}
			to, err := opts(tgtFormat, tgtColumns)
			if err != nil {
				return err
			}
			return runDiff(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), diffRun{
				flags: f, srcURI: srcURI, tgtURI: tgtURI, srcOpts: so, tgtOpts: to,
				sorted: sorted, output: output, memory: int64(budget), tempDir: tempDir,
				progress: progress && isTerminal(cmd.ErrOrStderr()), stats: stats,
				storeURI: storeURI, job: job, srcSQL: srcSQL, tgtSQL: tgtSQL, checksum: cs, maskKey: mk,
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&srcURI, "source", "", "source dataset URI")
	fl.StringVar(&tgtURI, "target", "", "target dataset URI")
	fl.StringVar(&srcFormat, "source-format", "", "source format (csv, tsv, jsonl, parquet); default from the extension")
	fl.StringVar(&tgtFormat, "target-format", "", "target format; default from the extension")
	fl.StringSliceVar(&srcColumns, "source-columns", nil, "columns of a source file, comma-separated: for JSON Lines the keys read (default: learned from the first lines), for CSV and Parquet the columns read")
	fl.StringSliceVar(&tgtColumns, "target-columns", nil, "columns of a target file, as --source-columns")
	for _, side := range []struct {
		name string
		sq   *sqlSide
	}{{"source", &srcSQL}, {"target", &tgtSQL}} {
		fl.StringVar(&side.sq.table, side.name+"-table", "", "database "+side.name+": table to read (schema.table)")
		fl.StringVar(&side.sq.query, side.name+"-query", "", "database "+side.name+": SELECT whose rows are read")
		fl.StringVar(&side.sq.filter, side.name+"-filter", "", "database "+side.name+": SQL condition rows must meet")
		fl.StringVar(&side.sq.timeZone, side.name+"-time-zone", "", "database "+side.name+": zone of timestamps stored without one (default UTC)")
	}
	fl.StringArrayVar(&f.keys, "key", nil, "key column (repeat for a composite key)")
	fl.StringArrayVar(&f.maps, "map", nil, "SRC=TGT: source column SRC is target column TGT")
	fl.StringArrayVar(&f.compare, "compare", nil, "columns to compare, comma-separated (default: all common columns)")
	fl.StringArrayVar(&f.types, "type", nil, "COL=TYPE: string, integer, decimal, timestamp, date, boolean or json")
	fl.StringArrayVar(&f.tolerances, "tolerance", nil, "COL=ABS: absolute numeric tolerance, inclusive (implies decimal)")
	fl.StringArrayVar(&f.relTolerances, "tolerance-relative", nil, "COL=FRACTION: relative numeric tolerance, inclusive")
	fl.StringArrayVar(&f.timeTols, "time-tolerance", nil, "COL=DURATION: timestamp/date tolerance, inclusive (implies timestamp)")
	fl.StringArrayVar(&f.trim, "trim", nil, "trim white space of COL before comparing")
	fl.StringArrayVar(&f.ignoreCase, "ignore-case", nil, "compare COL case-insensitively")
	fl.StringArrayVar(&f.sensitive, "sensitive", nil, "mask the values of COL in every output")
	fl.StringVar(&f.timeZone, "time-zone", "", "time zone of timestamps written without one (default UTC)")
	fl.StringVar(&f.strategy, "strategy", "auto", "auto, merge (sorted inputs), hash or checksum (two databases); auto: checksum for two databases, else merge when sorted, else hash")
	fl.Int64Var(&cs.SegmentRows, "segment-rows", 0, "checksum: rows per key-range segment (0: 1M when both tables are stored in key order, else one segment)")
	fl.IntVar(&cs.Factor, "bisection-factor", 0, "checksum: buckets each segment is summed in; a differing bucket (segment-rows/factor rows) is read and merged (0: about 100 rows a bucket)")
	fl.IntVar(&cs.Concurrency, "concurrency", checksum.DefaultConcurrency, "checksum: segments checked at once (each uses up to two connections per database)")
	fl.BoolVar(&sorted, "sorted", false, "both inputs are sorted by the key (byte order; integer and decimal keys by value): lets auto choose merge")
	fl.Int64Var(&f.maxDiscrep, "max-discrepancies", 0, "stop after N discrepancies (0: no limit)")
	fl.Float64Var(&f.rowsPerSecond, "rows-per-second", 0, "limit the read rate, both sides together (0: no limit)")
	fl.StringVar(&output, "output", "table", "table, json, jsonl or csv")
	fl.StringVar(&memory, "memory", "256MiB", "memory budget of the hash strategy (spills to disk beyond it)")
	fl.StringVar(&tempDir, "temp-dir", "", "where the hash strategy spills, and where json/csv output and --store keep discrepancies past 64 MiB (default: the system temp dir)")
	fl.StringVar(&delimiter, "delimiter", "", "CSV delimiter of both inputs (default , or tab for .tsv)")
	fl.StringVar(&quote, "quote", "", `CSV quote character of both inputs (default ")`)
	fl.StringVar(&nullMarker, "null", "", "unquoted CSV text read as NULL (default: an empty field)")
	fl.BoolVar(&progress, "progress", true, "show a progress bar when stderr is a terminal")
	fl.BoolVar(&stats, "stats", false, "after the run, print one line of run statistics to stderr (strategy, rows read, hash spills and memory, wall time)")
	fl.StringVar(&storeURI, "store", "", "record the run in a results store: sqlite:PATH (or a path) or postgres://…")
	fl.StringVar(&job, "job", "cli", "job name the run is recorded under in --store")
	fl.StringVar(&maskKeyFile, "mask-key-file", "", maskKeyHelp)
	return cmd
}

type diffRun struct {
	flags            diffFlags
	srcURI, tgtURI   string
	srcOpts, tgtOpts source.Options
	sorted           bool
	output           string
	memory           int64
	tempDir          string
	progress         bool
	stats            bool
	storeURI, job    string
	srcSQL, tgtSQL   sqlSide
	checksum         checksum.Options
	maskKey          []byte // nil: the store's (--store), else a key drawn for the run
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runDiff(ctx context.Context, stdout, stderr io.Writer, r diffRun) (err error) {
	// Recording starts first so that a source that cannot even be opened is recorded
	// as a failed run with its reason: nothing is lost.
	rec, err := startRecording(ctx, r)
	if err != nil {
		return err
	}
	var sum diff.Summary
	// The table shows a sample; json, csv and the store take every discrepancy, in a
	// spool whose memory comes out of --memory.
	all := rec != nil || r.output == "json" || r.output == "csv"
	var held int64
	if all {
		r.memory, held = spool.Split(r.memory)
	}
	collected := newCollector(r.output == "table", all, r.tempDir, held)
	defer collected.close()
	defer func() {
		if recErr := rec.finish(ctx, sum, collected.stream(), err); recErr != nil {
			fmt.Fprintf(stderr, "clearhouse: recording the run: %v\n", recErr)
			if err == nil {
				err = recErr
			}
		} else if rec != nil {
			fmt.Fprintf(stderr, "recorded as run %s in %s\n", rec.id, rec.where)
		}
	}()
	if rec != nil && r.maskKey == nil {
		// Runs recorded in a store mask with its key, so that their cases' masked keys
		// match from run to run, and the operator's when --job names one of its jobs
		// (namespace/name; a name without a namespace is in namespace "").
		storeKey, err := rec.s.MaskKey(ctx)
		if err != nil {
			return err
		}
		r.maskKey = runner.JobMaskKey(storeKey, r.job)
	}
	keys := splitList(r.flags.keys)
	maps, err := pairs("map", r.flags.maps)
	if err != nil {
		return err
	}
	types, err := pairs("type", r.flags.types)
	if err != nil {
		return err
	}
	var tgtKeys []string
	var keyTypes []diff.Type
	for _, k := range keys {
		keyTypes = append(keyTypes, typeNames[strings.ToLower(types[k])])
		if t, ok := maps[k]; ok {
			k = t
		}
		tgtKeys = append(tgtKeys, k)
	}
	strategy := diff.Strategy(strings.ToLower(r.flags.strategy))
	bothSQL := isSQL(r.srcURI) && isSQL(r.tgtURI)
	if strategy == diff.StrategyChecksum && !bothSQL {
		return errors.New("--strategy checksum needs two database sides (postgres:// or mysql://)")
	}
	if bothSQL && (strategy == "" || strategy == diff.StrategyAuto || strategy == diff.StrategyChecksum) {
		return runChecksum(ctx, stdout, stderr, r, strategy == diff.StrategyChecksum, rec != nil, &sum, collected)
	}
	// A database sorts by the key unless hash is asked for (then order is wasted work);
	// a file is promised sorted only by --sorted.
	wantOrder := func(uri string) bool {
		if isSQL(uri) {
			return strategy != diff.StrategyHash
		}
		return r.sorted
	}
	// Files are opened unordered first: an empty JSON Lines file has no columns to
	// check the order against until it is given the other side's (below).
	src, err := openSide(ctx, "source", r.srcURI, r.srcOpts, r.srcSQL, keys, keyTypes, wantOrder(r.srcURI) && isSQL(r.srcURI), "CLEARHOUSE_SOURCE_PASSWORD")
	if err != nil {
		return err
	}
	defer func() { _ = src.Close() }()
	tgt, err := openSide(ctx, "target", r.tgtURI, r.tgtOpts, r.tgtSQL, tgtKeys, keyTypes, wantOrder(r.tgtURI) && isSQL(r.tgtURI), "CLEARHOUSE_TARGET_PASSWORD")
	if err != nil {
		return err
	}
	defer func() { _ = tgt.Close() }()
	// A file without columns (an empty JSON Lines file, columns not declared) has no
	// rows: it is read again with the other side's columns, so every row of the other
	// side is missing on it rather than the comparison failing.
	// Both files empty: any columns will do; those the flags name are declared.
	if len(src.Columns()) == 0 && len(tgt.Columns()) == 0 {
		if src, err = withColumnsOf(ctx, "source", r.srcURI, r.srcOpts, src, namedColumns(r.flags), nil); err != nil {
			return err
		}
	}
	reverse := make(map[string]string, len(maps))
	for s, t := range maps {
		reverse[t] = s
	}
	if src, err = withColumnsOf(ctx, "source", r.srcURI, r.srcOpts, src, tgt.Columns(), reverse); err != nil {
		return err
	}
	if tgt, err = withColumnsOf(ctx, "target", r.tgtURI, r.tgtOpts, tgt, src.Columns(), maps); err != nil {
		return err
	}
	if src, err = orderFile("source", r.srcURI, src, keys, wantOrder(r.srcURI)); err != nil {
		return err
	}
	if tgt, err = orderFile("target", r.tgtURI, tgt, tgtKeys, wantOrder(r.tgtURI)); err != nil {
		return err
	}

	spec, err := r.spec(stderr, src.Columns(), tgt.Columns())
	if err != nil {
		return err
	}

	var opts []diff.Option
	var bar *progressbar.ProgressBar
	if r.progress {
		bar = newBar(stderr)
		opts = append(opts, diff.WithProgress(barProgress(bar)))
	}
	var stats *diff.Stats
	if r.stats {
		opts = append(opts, diff.WithStats(func(s diff.Stats) { stats = &s }))
	}

	sink, lines := outputSink(stdout, r.output, rec != nil, collected)
	sum, err = diff.Run(ctx, spec, src, tgt, sink, opts...)
	err = finishRun(stdout, stderr, r.output, bar, lines, spec, sum, collected, err)
	if stats != nil {
		fmt.Fprintln(stderr, statsLine(*stats, held))
	}
	return err
}

// withColumnsOf returns r, a side opened from uri, or when r is a file with no
// columns (and none declared), the file opened again declaring other's columns (the
// other side's, renamed through rename). r is closed when replaced.
func withColumnsOf(ctx context.Context, side, uri string, opts source.Options, r diff.Reader, other []string, rename map[string]string) (diff.Reader, error) {
	if isSQL(uri) || len(r.Columns()) > 0 || len(opts.Columns) > 0 || len(other) == 0 {
		return r, nil
	}
	for _, c := range other {
		if n, ok := rename[c]; ok {
			c = n
		}
		opts.Columns = append(opts.Columns, c)
	}
	again, err := source.Open(ctx, uri, opts)
	if err != nil {
		return r, fmt.Errorf("%s: %w", side, err)
	}
	_ = r.Close()
	return again, nil
}

// namedColumns lists the source columns the flags name: keys, compared columns and
// the columns of every rule, each once.
func namedColumns(f diffFlags) []string {
	var out []string
	add := func(cols ...string) {
		for _, c := range cols {
			if c != "" && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	add(splitList(f.keys)...)
	add(splitList(f.compare)...)
	for _, vs := range [][]string{f.maps, f.types, f.tolerances, f.relTolerances, f.timeTols} {
		for _, v := range vs {
			c, _, _ := strings.Cut(v, "=")
			add(c)
		}
	}
	add(f.trim...)
	add(f.ignoreCase...)
	add(f.sensitive...)
	return out
}

// orderFile wraps a file side with the promise that it is sorted by keys (--sorted).
func orderFile(side, uri string, r diff.Reader, keys []string, ordered bool) (diff.Reader, error) {
	if isSQL(uri) || !ordered {
		return r, nil
	}
	o, err := source.Ordered(r, keys)
	if err != nil {
		return r, fmt.Errorf("%s: %s: %w", side, r.Position(), err)
	}
	return o, nil
}

// barProgress shows the engine's progress on bar: rows read while reading, then, for
// hash, the partitions joined (the row count stops there: every row is read).
func barProgress(bar *progressbar.ProgressBar) func(diff.Progress) {
	joining := -1
	return func(p diff.Progress) {
		if p.Phase == diff.PhaseJoining && p.PartitionsJoined != joining {
			joining = p.PartitionsJoined
			bar.Describe(fmt.Sprintf("joining %d/%d partitions", p.PartitionsJoined, p.Partitions))
		}
		_ = bar.Set64(p.SourceRows + p.TargetRows)
	}
}

// statsLine is --stats' line: what the run did, for tuning --memory and --temp-dir.
// held is the part of --memory the discrepancies were kept in.
func statsLine(s diff.Stats, held int64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "stats: strategy %s, read %d source rows and %d target rows", s.Strategy, s.SourceRows, s.TargetRows)
	if s.Strategy == diff.StrategyHash {
		// Spilled bytes exactly too: hack/bench/bench.sh reads them.
		budget := humanize.IBytes(uint64(s.MemoryBudget))
		if held > 0 {
			budget += " and " + humanize.IBytes(uint64(held)) + " for the discrepancies"
		}
		fmt.Fprintf(&b, ", %d spills, %s spilled (%d bytes), %d repartitions, pool peak %s of %s (budget %s, %d partitions of %s chunks)",
			s.Spills, humanize.IBytes(uint64(s.SpilledBytes)), s.SpilledBytes, s.Repartitions, humanize.IBytes(uint64(s.PoolPeak)),
			humanize.IBytes(uint64(s.PoolLimit)), budget, s.Partitions, humanize.IBytes(uint64(s.ChunkSize)))
		switch {
		case s.LineJoin:
			fmt.Fprintf(&b, ", line join: rows kept as fingerprints, %d read again", s.Refetched)
		case s.Fingerprints:
			fmt.Fprintf(&b, ", rows kept as fingerprints, %d read again", s.Refetched)
		}
		fmt.Fprintf(&b, ", read phase %s", s.ReadElapsed.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, ", wall %s", s.Elapsed.Round(time.Millisecond))
	return b.String()
}

// outputSink is where discrepancies go: written as they come for jsonl (and kept too
// when keep: the store needs them), else collected for the output at the end.
func outputSink(stdout io.Writer, output string, keep bool, collected *collector) (diff.Sink, *diff.JSONLines) {
	if output != "jsonl" {
		return collected, nil
	}
	lines := diff.NewJSONLines(stdout)
	if keep {
		return teeSink{lines, collected}, lines
	}
	return lines, lines
}

// finishRun ends the progress bar and writes the result of a run that ended with err.
// The CSV output has no summary: that it was cut short goes to stderr.
func finishRun(stdout, stderr io.Writer, output string, bar *progressbar.ProgressBar, lines *diff.JSONLines, spec diff.Spec, sum diff.Summary, collected *collector, err error) error {
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		if lines != nil {
			_ = lines.Flush()
		}
		return err
	}
	if output == "csv" && sum.Truncated {
		fmt.Fprintf(stderr, "clearhouse: stopped early at --max-discrepancies %d: the CSV lists only the discrepancies found before\n", spec.MaxDiscrepancies)
	}
	return writeResult(stdout, output, lines, spec, sum, collected)
}

// writeResult writes the outcome of a run in the chosen output (lines: the jsonl sink,
// already written) and returns exit code 1 when there are discrepancies.
func writeResult(stdout io.Writer, output string, lines *diff.JSONLines, spec diff.Spec, sum diff.Summary, c *collector) error {
	var err error
	switch output {
	case "jsonl":
		if err := lines.Flush(); err != nil {
			return err
		}
		err = json.NewEncoder(stdout).Encode(map[string]diff.Summary{"summary": sum})
	case "json":
		err = writeJSON(stdout, sum, c.sorted())
	case "csv":
		err = writeCSV(stdout, spec, c.sorted())
	default:
		err = writeTable(stdout, sum, c.sampled(), c.n, isTerminal(stdout))
	}
	if err == nil {
		err = c.err()
	}
	if err != nil {
		return err
	}
	if sum.Discrepancies() > 0 {
		return exitCodeError{1}
	}
	return nil
}

func writeJSON(w io.Writer, sum diff.Summary, ds iter.Seq[diff.Discrepancy]) error {
	bw := bufio.NewWriter(w)
	s, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	_, _ = bw.WriteString(`{"summary":`)
	_, _ = bw.Write(s)
	_, _ = bw.WriteString(`,"discrepancies":[`)
	var buf []byte
	first := true
	for d := range ds {
		if !first {
			_ = bw.WriteByte(',')
		}
		first = false
		buf = d.AppendJSON(buf[:0])
		_, _ = bw.Write(buf)
	}
	_, _ = bw.WriteString("]}\n")
	return bw.Flush()
}

// tableCell renders a value for people: NULL as a bare NULL, text quoted when it could
// be mistaken for it or hides white space.
func tableCell(c diff.Cell) string {
	if c.Null {
		return "NULL"
	}
	if c.Text == "" || c.Text == "NULL" || strings.TrimSpace(c.Text) != c.Text || strings.ContainsAny(c.Text, "\t\n\r\"") {
		return strconv.Quote(c.Text)
	}
	return c.Text
}

func text(s string) diff.Cell { return diff.Cell{Text: s} }

// writeCSV writes one row per discrepancy, and one per differing column of a mismatch:
// kind, side, the key columns, column, source, target, count, reason, position. It uses
// the dialect the CSV reader reads: NULL is an unquoted empty field, "" the empty string.
func writeCSV(w io.Writer, spec diff.Spec, ds iter.Seq[diff.Discrepancy]) error {
	cw := source.NewCSVWriter(w, source.CSVOptions{})
	header := []string{"kind", "side"}
	for _, k := range spec.Keys {
		header = append(header, k.Name)
	}
	header = append(header, "column", "source", "target", "count", "reason", "position")
	if err := cw.WriteHeader(header); err != nil {
		return err
	}
	null := diff.Cell{Null: true}
	for d := range ds {
		row := []diff.Cell{text(string(d.Kind)), text(string(d.Side))}
		if d.Side == "" {
			row[1] = null
		}
		for _, kv := range d.Key {
			row = append(row, kv.Value)
		}
		count := null
		if d.Count > 0 {
			count = text(strconv.FormatInt(d.Count, 10))
		}
		tail := func(c diff.Cell) diff.Cell {
			if c.Text == "" {
				return null
			}
			return c
		}
		if len(d.Columns) == 0 {
			if err := cw.Write(append(row, null, null, null, count, tail(text(d.Reason)), tail(text(d.Position)))); err != nil {
				return err
			}
		}
		for _, c := range d.Columns {
			if err := cw.Write(append(slices.Clone(row), text(c.Name), c.Source, c.Target, count, null, null)); err != nil {
				return err
			}
		}
	}
	return cw.Flush()
}

func writeTable(w io.Writer, sum diff.Summary, ds []diff.Discrepancy, n int64, color bool) error {
	hi := func(s string) string { return s }
	dim := hi
	if color {
		hi = func(s string) string { return "\x1b[1;31m" + s + "\x1b[0m" }
		dim = func(s string) string { return "\x1b[2m" + s + "\x1b[0m" }
	}
	verdict := "no discrepancies"
	if n := sum.Discrepancies(); n > 0 {
		verdict = hi(fmt.Sprintf("%d discrepancies", n))
	}
	if sum.Truncated {
		verdict += " (stopped early at --max-discrepancies: counts cover what was read)"
	}
	fmt.Fprintf(w, "Compared %d keys (%d source rows, %d target rows, %s strategy): %s\n\n",
		sum.Compared, sum.SourceRows, sum.TargetRows, sum.Strategy, verdict)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range []struct {
		name string
		n    int64
	}{
		{"matched", sum.Matched}, {"missing in target", sum.MissingInTarget}, {"missing in source", sum.MissingInSource},
		{"mismatched", sum.Mismatched}, {"duplicate keys", sum.DuplicateKeys}, {"invalid rows", sum.InvalidRows},
	} {
		fmt.Fprintf(tw, "  %s\t%d\n", row.name, row.n)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ds) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tKEY\tDETAIL")
	shown := sample(ds, tableRows)
	for _, d := range shown {
		var key []string
		for _, kv := range d.Key {
			key = append(key, kv.Name+"="+tableCell(kv.Value))
		}
		var detail string
		switch d.Kind {
		case diff.KindMissingInTarget:
			detail = "only in source"
		case diff.KindMissingInSource:
			detail = "only in target"
		case diff.KindMismatch:
			var cols []string
			for _, c := range d.Columns {
				cols = append(cols, fmt.Sprintf("%s: %s → %s", c.Name, hi(tableCell(c.Source)), hi(tableCell(c.Target))))
			}
			detail = strings.Join(cols, "; ")
		case diff.KindDuplicateKey:
			detail = fmt.Sprintf("%d rows in %s", d.Count, d.Side)
		case diff.KindInvalidRow:
			detail = fmt.Sprintf("%s: %s %s", d.Side, d.Reason, dim("("+d.Position+")"))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Kind, strings.Join(key, " "), detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n > int64(len(shown)) {
		fmt.Fprintf(w, "… and %d more (--output json, jsonl or csv lists them all)\n", n-int64(len(shown)))
	}
	return nil
}

// sample picks up to n discrepancies from sorted ds, taking from every kind in turn so
// a screenful shows each kind found, and keeps them in sorted order.
func sample(ds []diff.Discrepancy, n int) []diff.Discrepancy {
	if len(ds) <= n {
		return ds
	}
	var groups [][]diff.Discrepancy
	for i := 0; i < len(ds); {
		j := i
		for j < len(ds) && ds[j].Kind == ds[i].Kind {
			j++
		}
		groups = append(groups, ds[i:j])
		i = j
	}
	taken := make([]int, len(groups))
	for picked := 0; picked < n; {
		for g := range groups {
			if picked < n && taken[g] < len(groups[g]) {
				taken[g]++
				picked++
			}
		}
	}
	out := make([]diff.Discrepancy, 0, n)
	for g, k := range taken {
		out = append(out, groups[g][:k]...)
	}
	return out
}

func newBar(stderr io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("comparing"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// runChecksum compares two database sides by checksum bisection. strict (--strategy
// checksum) fails when the keys rule checksums out; auto reads every row instead.
// sum and collected are runDiff's, which records them (keep: for the store even with
// jsonl output).
func runChecksum(ctx context.Context, stdout, stderr io.Writer, r diffRun, strict, keep bool, sum *diff.Summary, collected *collector) error {
	if err := errors.Join(checkSQLSide("source", r.srcSQL), checkSQLSide("target", r.tgtSQL)); err != nil {
		return err
	}
	src := sqlConfig(r.srcURI, r.srcSQL, "CLEARHOUSE_SOURCE_PASSWORD")
	tgt := sqlConfig(r.tgtURI, r.tgtSQL, "CLEARHOUSE_TARGET_PASSWORD")
	srcCols, err := sqlColumns(ctx, "source", src)
	if err != nil {
		return err
	}
	tgtCols, err := sqlColumns(ctx, "target", tgt)
	if err != nil {
		return err
	}
	spec, err := r.spec(stderr, srcCols, tgtCols)
	if err != nil {
		return err
	}
	opts := r.checksum
	opts.Strict = strict
	var bar *progressbar.ProgressBar
	if r.progress {
		bar = newBar(stderr)
		opts.Progress = func(p checksum.Progress) { _ = bar.Set64(max(p.RowsSummed, p.SourceRows+p.TargetRows)) }
	}
	sink, lines := outputSink(stdout, r.output, keep, collected)
	start := time.Now()
	*sum, err = checksum.Run(ctx, spec, src, tgt, sink, opts)
	elapsed := time.Since(start)
	err = finishRun(stdout, stderr, r.output, bar, lines, spec, *sum, collected, err)
	if r.stats {
		// The databases do the work: only the counts and the wall time are known here.
		fmt.Fprintln(stderr, statsLine(diff.Stats{Strategy: sum.Strategy, SourceRows: sum.SourceRows, TargetRows: sum.TargetRows, Elapsed: elapsed}, 0))
	}
	return err
}

// spec builds the engine spec from the flags and both sides' columns, and notes on
// stderr the columns present on one side only.
func (r diffRun) spec(stderr io.Writer, srcCols, tgtCols []string) (diff.Spec, error) {
	spec, skipped, err := buildSpec(r.flags, srcCols, tgtCols)
	if err != nil {
		return spec, err
	}
	spec.MemoryBudget = r.memory
	spec.TempDir = r.tempDir
	spec.MaskKey = r.maskKey
	if len(skipped) > 0 {
		fmt.Fprintf(stderr, "not compared: %s\n", strings.Join(skipped, ", "))
	}
	return spec, nil
}
