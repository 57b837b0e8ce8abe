package source

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// ledgerCSV builds n rows shaped like the generator's payments ledger: ~110 bytes
// a row, a few quoted memos (embedded commas, quotes, newlines), empties and NULLs.
func ledgerCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,amount,currency,value_date,booked_at,status,account,memo\n")
	memos := []string{"invoice 4711", `"refund, partial"`, "", "salary", "INV-1234", `""`, "fee", "INV-5678",
		`"said ""hi"""`, "salary march", "zürich café ☕", "INV-99", `"two` + "\n" + `lines"`, "fee; monthly", "INV-7", "x"}
	cur := []string{"EUR", "USD", "GBP", "CHF"}
	st := []string{"booked", "settled", "pending", "reversed"}
	for i := range n {
		fmt.Fprintf(&b, "P%010d,%d.%02d,%s,2026-03-%02d,2026-03-%02dT%02d:%02d:%02dZ,%s,CH93%012d,%s\n",
			i, (i*7919)%1000000, i%100, cur[i%4], i%28+1, i%28+1, i%24, i%60, (i*7)%60, st[i%4], i*31, memos[i%16])
	}
	return b.Bytes()
}

// BenchmarkCSVRead reads a ledger CSV (200k rows, ~21 MB) end to end; reports
// MB/s and rows/s. encoding_csv is the standard library for reference (it cannot
// tell NULL from the empty string).
func BenchmarkCSVRead(b *testing.B) {
	const rows = 200_000
	data := ledgerCSV(rows)
	b.Run("clearhouse", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r, err := NewCSVReader(bytes.NewReader(data), CSVOptions{Name: "bench.csv"})
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for {
				_, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != rows {
				b.Fatalf("%d rows", n)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("encoding_csv", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			r := csv.NewReader(bytes.NewReader(data))
			r.ReuseRecord = true
			n := -1
			for {
				_, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != rows {
				b.Fatalf("%d rows", n)
			}
		}
		b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkJSONLRead reads the same ledger as JSON Lines.
func BenchmarkJSONLRead(b *testing.B) {
	const rows = 200_000
	var buf bytes.Buffer
	for i := range rows {
		fmt.Fprintf(&buf, `{"id":"P%010d","amount":%d.%02d,"currency":"EUR","value_date":"2026-03-01","booked_at":"2026-03-01T10:00:00Z","status":"booked","account":"CH93%012d","memo":"invoice \"%d\""}`+"\n",
			i, i%1000000, i%100, i*31, i)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewJSONLReader(bytes.NewReader(data), JSONLOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkParquetRead reads 200k ledger rows (strings, a decimal, a timestamp)
// from a Parquet file in memory.
func BenchmarkParquetRead(b *testing.B) {
	const rows = 200_000
	type ledger struct {
		ID       string  `parquet:"id"`
		Amount   int64   `parquet:"amount,decimal(2:18)"`
		Currency string  `parquet:"currency,dict"`
		Booked   int64   `parquet:"booked_at,timestamp(millisecond)"`
		Status   string  `parquet:"status,dict"`
		Account  string  `parquet:"account"`
		Memo     *string `parquet:"memo,optional"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[ledger](&buf, parquet.Compression(&parquet.Snappy))
	batch := make([]ledger, 0, 1000)
	memo := "invoice"
	for i := range rows {
		batch = append(batch, ledger{ID: fmt.Sprintf("P%010d", i), Amount: int64(i * 7), Currency: "EUR",
			Booked: 1772355600000 + int64(i)*1000, Status: "booked", Account: fmt.Sprintf("CH93%012d", i), Memo: &memo})
		if len(batch) == cap(batch) {
			if _, err := w.Write(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := NewParquetReader(bytes.NewReader(data), int64(len(data)), nil, ParquetOptions{Name: "bench.parquet"})
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != rows {
			b.Fatalf("%d rows", n)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
