package diff

import (
	"bytes"
	"encoding/csv"
	"io"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRates reports rows/s (wall) and CPU ns per row (robust on a busy machine).
func reportRates(b *testing.B, rows int, cpu0 time.Duration) {
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(rows*b.N), "cpu-ns/row")
}

// Benchmarks run the engine on generated in-memory rows (no file parsing): 1M keys per
// side, 1% mismatches, 0.1% missing on each side. Run with e.g.
//
//	go test -run XXX -bench . -benchtime 5x ./internal/diff/
const benchRows = 1 << 20

var benchData struct {
	once     sync.Once
	src, tgt [][]Cell
}

var benchCols = []string{"id", "amount", "qty", "ts", "name"}

// benchRow returns the source and target values of key i and whether each side has it.
func benchRow(i int) (s, t []string, inSrc, inTgt bool) {
	id := strconv.FormatInt(int64(1e9+i), 10)
	amount := strconv.Itoa(i%100000) + "." + strconv.Itoa(10+i%90)
	qty := strconv.Itoa(i % 1000)
	ts := benchBase.Add(time.Duration(i) * time.Second).Format("2006-01-02 15:04:05.000000")
	name := "customer-" + strconv.Itoa(i%5000)
	s = []string{id, amount, qty, ts, name}
	t = slices.Clone(s)
	if i%100 == 1 {
		t[1] = amount + "1"
	}
	return s, t, i%1000 != 2, i%1000 != 3
}

var benchBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func benchRowsData() (src, tgt [][]Cell) {
	benchData.once.Do(func() {
		cells := func(v []string) []Cell {
			out := make([]Cell, len(v))
			for i, x := range v {
				out[i] = Cell{Text: x}
			}
			return out
		}
		for i := 0; i < benchRows; i++ {
			s, t, inS, inT := benchRow(i)
			if inS {
				benchData.src = append(benchData.src, cells(s))
			}
			if inT {
				benchData.tgt = append(benchData.tgt, cells(t))
			}
		}
	})
	return benchData.src, benchData.tgt
}

func benchSpec(s Strategy) Spec {
	return Spec{
		Keys: []Column{{Name: "id"}},
		Compare: []Column{
			{Name: "amount", Type: TypeDecimal},
			{Name: "qty", Type: TypeInteger},
			{Name: "ts", Type: TypeTimestamp},
			{Name: "name"},
		},
		Strategy: s,
	}
}

// benchReader returns the stored rows themselves (the engine must not modify them).
type benchReader struct {
	rows [][]Cell
	i    int
}

func (r *benchReader) Columns() []string   { return benchCols }
func (r *benchReader) OrderedBy() []string { return []string{"id"} }
func (r *benchReader) Position() string    { return "row " + strconv.Itoa(r.i) }
func (r *benchReader) Close() error        { return nil }
func (r *benchReader) Next() ([]Cell, error) {
	if r.i >= len(r.rows) {
		return nil, io.EOF
	}
	r.i++
	return r.rows[r.i-1], nil
}

type countSink struct{ n int }

func (c *countSink) Emit(Discrepancy) error { c.n++; return nil }

func benchRun(b *testing.B, spec Spec) {
	src, tgt := benchRowsData()
	spec.TempDir = b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var sum Summary
	for b.Loop() {
		var err error
		sum, err = Run(b.Context(), spec, &benchReader{rows: src}, &benchReader{rows: tgt}, &countSink{})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, len(src)+len(tgt), cpu0)
	if sum.Mismatched == 0 || sum.MissingInSource == 0 || sum.MissingInTarget == 0 {
		b.Fatalf("unexpected summary %+v", sum)
	}
}

func BenchmarkMerge(b *testing.B) { benchRun(b, benchSpec(StrategyMerge)) }

// BenchmarkHash keeps everything in memory (1 GiB budget).
func BenchmarkHash(b *testing.B) {
	spec := benchSpec(StrategyHash)
	spec.MemoryBudget = 1 << 30
	benchRun(b, spec)
}

// genReader generates benchmark rows on the fly without allocating (its strings point
// into a buffer reused by the next call, as the Reader contract allows), so that the heap
// measured during a run is the engine's.
type genReader struct {
	n, i, side int
	buf        []byte
	cells      []Cell
}

func (r *genReader) Columns() []string { return benchCols }
func (r *genReader) Position() string  { return "row " + strconv.Itoa(r.i) }
func (r *genReader) Close() error      { return nil }
func (r *genReader) Next() ([]Cell, error) {
	for {
		if r.i >= r.n {
			return nil, io.EOF
		}
		i := r.i
		r.i++
		// Scatter keys so the input is not ordered.
		k := int((uint64(i) * 0x9E3779B97F4A7C15) >> 40)
		if (r.side == 0 && k%1000 == 2) || (r.side == 1 && k%1000 == 3) {
			continue
		}
		b := r.buf[:0]
		var offs [6]int
		b = strconv.AppendInt(b, int64(1e9+k), 10)
		offs[1] = len(b)
		b = strconv.AppendInt(b, int64(k%100000), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(10+k%90), 10)
		if r.side == 1 && k%100 == 1 {
			b = append(b, '1')
		}
		offs[2] = len(b)
		b = strconv.AppendInt(b, int64(k%1000), 10)
		offs[3] = len(b)
		b = benchBase.Add(time.Duration(k)*time.Second).AppendFormat(b, "2006-01-02 15:04:05.000000")
		offs[4] = len(b)
		b = append(b, "customer-"...)
		b = strconv.AppendInt(b, int64(k%5000), 10)
		offs[5] = len(b)
		r.buf = b
		r.cells = r.cells[:0]
		for f := 0; f < 5; f++ {
			r.cells = append(r.cells, Cell{Text: unsafe.String(&b[offs[f]], offs[f+1]-offs[f])})
		}
		return r.cells, nil
	}
}

// BenchmarkHashSpill gives the hash strategy 16 MiB for 2M generated rows (~200 MB of
// records) and reports the peak Go heap (HeapAlloc, garbage included, sampled every
// millisecond) above the heap before the run.
func BenchmarkHashSpill(b *testing.B) {
	spec := benchSpec(StrategyHash)
	spec.MemoryBudget = 16 << 20
	spec.TempDir = b.TempDir()
	b.ReportAllocs()
	cpu0 := cpuTime()
	var peakMiB float64
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		var peak atomic.Uint64
		done := make(chan struct{})
		go func() {
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			var m runtime.MemStats
			for {
				select {
				case <-done:
					return
				case <-t.C:
					runtime.ReadMemStats(&m)
					if m.HeapAlloc > peak.Load() {
						peak.Store(m.HeapAlloc)
					}
				}
			}
		}()
		sum, err := Run(b.Context(), spec, &genReader{n: benchRows, buf: make([]byte, 0, 128)}, &genReader{n: benchRows, side: 1, buf: make([]byte, 0, 128)}, &countSink{})
		close(done)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Mismatched == 0 || sum.MissingInTarget == 0 {
			b.Fatalf("summary %+v", sum)
		}
		peakMiB = max(peakMiB, float64(peak.Load()-min(base, peak.Load()))/(1<<20))
	}
	reportRates(b, 2*benchRows, cpu0)
	b.ReportMetric(peakMiB, "peak-heap-MiB")
}

// BenchmarkReadEncode reads both sides and encodes them into records concurrently,
// nothing compared: what the hash strategy does per row before partitioning.
func BenchmarkReadEncode(b *testing.B) {
	src, tgt := benchRowsData()
	p, err := newPlan(benchSpec(StrategyMerge), benchCols, benchCols)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		var wg sync.WaitGroup
		for side, rows := range [][][]Cell{src, tgt} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := newEncoder(p, side)
				e.noHash = true
				r := &benchReader{rows: rows}
				var buf []byte
				for {
					cells, err := r.Next()
					if err != nil {
						break
					}
					buf = e.encode(buf[:0], cells, r)
				}
			}()
		}
		wg.Wait()
	}
	reportRates(b, len(src)+len(tgt), cpu0)
}

// CSV-backed benchmarks: the brief's yardstick is merge time against the time to merely
// read and parse both files. The files are CSV text in memory, parsed by encoding/csv.
var benchCSV struct {
	once     sync.Once
	src, tgt []byte
}

func benchCSVData() (src, tgt []byte) {
	benchCSV.once.Do(func() {
		var sb, tb bytes.Buffer
		sw, tw := csv.NewWriter(&sb), csv.NewWriter(&tb)
		must := func(err error) {
			if err != nil {
				panic(err)
			}
		}
		must(sw.Write(benchCols))
		must(tw.Write(benchCols))
		for i := 0; i < benchRows; i++ {
			s, t, inS, inT := benchRow(i)
			if inS {
				must(sw.Write(s))
			}
			if inT {
				must(tw.Write(t))
			}
		}
		sw.Flush()
		tw.Flush()
		must(sw.Error())
		must(tw.Error())
		benchCSV.src, benchCSV.tgt = sb.Bytes(), tb.Bytes()
	})
	return benchCSV.src, benchCSV.tgt
}

type csvReader struct {
	r     *csv.Reader
	cols  []string
	cells []Cell
	line  int
}

func newCSVReader(data []byte) *csvReader {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	head, _ := r.Read()
	return &csvReader{r: r, cols: slices.Clone(head), line: 1}
}

func (r *csvReader) Columns() []string   { return r.cols }
func (r *csvReader) OrderedBy() []string { return []string{"id"} }
func (r *csvReader) Position() string    { return "line " + strconv.Itoa(r.line) }
func (r *csvReader) Close() error        { return nil }
func (r *csvReader) Next() ([]Cell, error) {
	rec, err := r.r.Read()
	if err != nil {
		return nil, err
	}
	r.line++
	r.cells = r.cells[:0]
	for _, f := range rec {
		r.cells = append(r.cells, Cell{Text: f})
	}
	return r.cells, nil
}

// BenchmarkReadCSV reads and parses both files concurrently: the yardstick.
func BenchmarkReadCSV(b *testing.B) {
	src, tgt := benchCSVData()
	b.ReportAllocs()
	cpu0 := cpuTime()
	rows := 0
	for b.Loop() {
		var wg sync.WaitGroup
		var n [2]int
		for side, data := range [][]byte{src, tgt} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := newCSVReader(data)
				for {
					if _, err := r.Next(); err != nil {
						break
					}
					n[side]++
				}
			}()
		}
		wg.Wait()
		rows = n[0] + n[1]
	}
	reportRates(b, rows, cpu0)
}

func benchRunCSV(b *testing.B, spec Spec) {
	src, tgt := benchCSVData()
	spec.TempDir = b.TempDir()
	b.ReportAllocs()
	cpu0 := cpuTime()
	var sum Summary
	for b.Loop() {
		var err error
		sum, err = Run(b.Context(), spec, newCSVReader(src), newCSVReader(tgt), &countSink{})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, int(sum.SourceRows+sum.TargetRows), cpu0)
}

func BenchmarkMergeCSV(b *testing.B) { benchRunCSV(b, benchSpec(StrategyMerge)) }

func BenchmarkHashCSV(b *testing.B) {
	spec := benchSpec(StrategyHash)
	spec.MemoryBudget = 1 << 30
	benchRunCSV(b, spec)
}
