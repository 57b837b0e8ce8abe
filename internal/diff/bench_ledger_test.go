package diff

import (
	"io"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// The payments ledger of internal/gen as CSV-like string cells, sorted by id, with 0.1%
// discrepancies: what `clearhouse diff --strategy merge --sorted` does to generated CSV
// pairs, without the file parsing. Each side's text is one buffer written row after row,
// as a CSV reader's line buffer is, so the engine reads it in order. Run with e.g.
//
//	go test -run '^$' -bench 'Ledger' -benchtime 10x -count 5 ./internal/diff/
var ledgerCols = []string{"id", "amount", "currency", "value_date", "booked_at", "status", "account", "memo"}

var ledgerData struct {
	once     sync.Once
	src, tgt ledgerSide
}

type ledgerSide struct {
	text  []byte   // every value, back to back
	spans []uint32 // per cell: where it ends in text, or ledgerNull|where it starts
	rows  int
}

const ledgerNull = 1 << 31

// ledgerSpec is the spec `clearhouse diff --key id --tolerance amount=0.01
// --time-tolerance booked_at=2s --type value_date=date --sensitive account` builds.
func ledgerSpec() Spec {
	return Spec{
		Keys: []Column{{Name: "id"}},
		Compare: []Column{
			{Name: "amount", Type: TypeDecimal, AbsTolerance: "0.01"},
			{Name: "currency"},
			{Name: "value_date", Type: TypeDate},
			{Name: "booked_at", Type: TypeTimestamp, TimeTolerance: 2 * time.Second},
			{Name: "status"},
			{Name: "account", Sensitive: true},
			{Name: "memo"},
		},
		Strategy: StrategyMerge,
	}
}

func ledgerMix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func appendLedgerCents(dst []byte, c int64) []byte {
	if c < 0 {
		dst = append(dst, '-')
		c = -c
	}
	dst = strconv.AppendInt(dst, c/100, 10)
	return append(dst, '.', byte('0'+c%100/10), byte('0'+c%10))
}

// ledgerRows builds both sides. Per 5000 keys: an amount off by 1.00, a key missing in
// the target, one missing in the source, booked_at 3s later and a different account
// (5 discrepancies), and an amount 0.01 off and booked_at 2s later (within tolerance).
func ledgerRows() (src, tgt ledgerSide) {
	ledgerData.once.Do(func() {
		currencies := []string{"EUR", "USD", "GBP", "CHF", "JPY"}
		statuses := []string{"booked", "settled", "pending", "reversed"}
		epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var buf [2][]byte
		type span struct{ off, n int }
		var spans [2][]span // per cell; n < 0 is NULL
		for i := 0; i < benchRows; i++ {
			h1, h2 := ledgerMix(uint64(i)<<1), ledgerMix(uint64(i)<<1|1)
			cents := int64(h1%2_000_000) - 200_000
			day := int(h1>>32) % 365
			secs := int64(h2 % 86400)
			booked := epoch.Add(time.Duration(int64(day)*86400+secs) * time.Second)
			account := (h2 >> 24) % 1_000_000_000_000
			memo := int(h1>>48) % 100
			k := i % 5000
			for side := 0; side < 2; side++ {
				if (side == 0 && k == 3) || (side == 1 && k == 2) {
					continue
				}
				b := buf[side]
				cell := func(start int) {
					spans[side] = append(spans[side], span{start, len(b) - start})
				}
				st := len(b)
				b = append(b, 'P')
				id := strconv.AppendInt(nil, int64(i), 10)
				for n := len(id); n < 10; n++ {
					b = append(b, '0')
				}
				b = append(b, id...)
				cell(st)
				c := cents
				if side == 1 && k == 1 {
					c += 100
				} else if side == 1 && k == 5 {
					c++
				}
				st = len(b)
				b = appendLedgerCents(b, c)
				cell(st)
				st = len(b)
				b = append(b, currencies[int(h1>>24)%len(currencies)]...)
				cell(st)
				st = len(b)
				b = booked.AppendFormat(b, "2006-01-02")
				cell(st)
				bk := booked
				if side == 1 && k == 4 {
					bk = bk.Add(3 * time.Second)
				} else if side == 1 && k == 6 {
					bk = bk.Add(2 * time.Second)
				}
				st = len(b)
				b = bk.AppendFormat(b, time.RFC3339)
				cell(st)
				st = len(b)
				b = append(b, statuses[int(h2>>20)%len(statuses)]...)
				cell(st)
				acc := account
				if side == 1 && k == 7 {
					acc++
				}
				st = len(b)
				b = append(b, "CH"...)
				b = strconv.AppendUint(b, 10+acc%90, 10)
				s := strconv.AppendUint(nil, acc, 10)
				for n := len(s); n < 12; n++ {
					b = append(b, '0')
				}
				b = append(b, s...)
				cell(st)
				st = len(b)
				switch {
				case memo < 10:
					spans[side] = append(spans[side], span{st, -1})
				case memo < 20:
					cell(st) // ""
				case memo < 40:
					b = append(b, "salary"...)
					cell(st)
				default:
					b = append(b, "INV-"...)
					b = strconv.AppendUint(b, (h2>>5)%100_000_000, 10)
					cell(st)
				}
				buf[side] = b
			}
		}
		for side, out := range []*ledgerSide{&ledgerData.src, &ledgerData.tgt} {
			out.text = buf[side]
			out.spans = make([]uint32, len(spans[side]))
			for j, sp := range spans[side] {
				if sp.n < 0 {
					out.spans[j] = ledgerNull | uint32(sp.off)
				} else {
					out.spans[j] = uint32(sp.off + sp.n)
				}
			}
			out.rows = len(out.spans) / len(ledgerCols)
		}
	})
	return ledgerData.src, ledgerData.tgt
}

// ledgerReader makes each row's cells in a slice it reuses, pointing into the side's
// text, as a CSV reader's cells point into its buffer.
type ledgerReader struct {
	side  ledgerSide
	i     int
	cells []Cell
}

func (r *ledgerReader) Columns() []string   { return ledgerCols }
func (r *ledgerReader) OrderedBy() []string { return []string{"id"} }
func (r *ledgerReader) Position() string    { return "line " + strconv.Itoa(r.i+1) }
func (r *ledgerReader) Close() error        { return nil }
func (r *ledgerReader) Next() ([]Cell, error) {
	if r.i >= r.side.rows {
		return nil, io.EOF
	}
	n := len(ledgerCols)
	spans := r.side.spans[r.i*n : (r.i+1)*n]
	r.i++
	if r.cells == nil {
		r.cells = make([]Cell, n)
	}
	start := uint32(0)
	if r.i > 1 {
		start = r.side.spans[(r.i-1)*n-1] &^ ledgerNull
	}
	for j, end := range spans {
		if end&ledgerNull != 0 {
			r.cells[j] = Cell{Null: true}
			continue
		}
		r.cells[j] = Cell{Text: unsafe.String(unsafe.SliceData(r.side.text[start:]), end-start)}
		start = end
	}
	return r.cells, nil
}

// BenchmarkMergeLedger is the whole merge run on the ledger: cpu-ns/row is what the
// engine adds on top of reading (which costs next to nothing here).
func BenchmarkMergeLedger(b *testing.B) {
	src, tgt := ledgerRows()
	runtime.GC() // not during the measurement: the rows' garbage
	spec := ledgerSpec()
	b.ReportAllocs()
	cpu0 := cpuTime()
	var sum Summary
	for b.Loop() {
		var err error
		sum, err = Run(b.Context(), spec, &ledgerReader{side: src}, &ledgerReader{side: tgt}, &countSink{})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, src.rows+tgt.rows, cpu0)
	per := int64(benchRows / 5000)
	if sum.Matched < int64(benchRows)-6*per || sum.Mismatched < 3*per || sum.MissingInTarget < per || sum.MissingInSource < per {
		b.Fatalf("unexpected summary %+v", sum)
	}
}

// BenchmarkEncodeLedger reads and encodes both sides, one after the other, without
// merging: the per-row cost of normalizing.
func BenchmarkEncodeLedger(b *testing.B) {
	src, tgt := ledgerRows()
	runtime.GC() // not during the measurement: the rows' garbage
	p, err := newPlan(ledgerSpec(), ledgerCols, ledgerCols)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	var buf []byte
	for b.Loop() {
		for side, rows := range []ledgerSide{src, tgt} {
			e := newEncoder(p, side)
			e.noHash = true
			r := &ledgerReader{side: rows}
			for {
				cells, err := r.Next()
				if err != nil {
					break
				}
				buf = e.encode(buf[:0], cells, r)
			}
		}
	}
	reportRates(b, src.rows+tgt.rows, cpu0)
}

// BenchmarkReadLedger only reads both sides: what BenchmarkMergeLedger's reader costs.
func BenchmarkReadLedger(b *testing.B) {
	src, tgt := ledgerRows()
	runtime.GC() // not during the measurement: the rows' garbage
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		for _, rows := range []ledgerSide{src, tgt} {
			r := &ledgerReader{side: rows}
			for {
				cells, err := r.Next()
				if err != nil {
					break
				}
				n += len(cells[0].Text)
			}
		}
	}
	reportRates(b, src.rows+tgt.rows, cpu0)
	if n == 0 {
		b.Fatal("no rows")
	}
}
