package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

type pqRow struct {
	ID      string     `parquet:"id"`
	Amount  int64      `parquet:"amount,decimal(2:18)"`
	Small   *int32     `parquet:"small,decimal(3:9),optional"`
	Wide    [16]byte   `parquet:"wide,decimal(4:38)"`
	Booked  time.Time  `parquet:"booked_at,timestamp(millisecond)"`
	Micros  int64      `parquet:"micros,timestamp(microsecond)"`
	Nanos   *time.Time `parquet:"nanos,timestamp(nanosecond),optional"`
	Local   int64      `parquet:"local,timestamp(millisecond:local)"`
	Day     int32      `parquet:"value_date,date"` // days since 1970 (time.Time+date is written wrongly by parquet-go v0.32)
	Memo    *string    `parquet:"memo,optional"`
	Count   int32      `parquet:"count"`
	Ratio   float64    `parquet:"ratio"`
	Ok      bool       `parquet:"ok"`
	Unsign  uint32     `parquet:"unsign,uint(32)"`
	UUID    [16]byte   `parquet:"uuid,uuid"`
	Payload []byte     `parquet:"payload"`
}

func ptr[T any](v T) *T { return &v }

// be16 is the 16-byte big-endian two's complement of x.
func be16(x int64) [16]byte {
	var b [16]byte
	fill := byte(0)
	if x < 0 {
		fill = 0xff
	}
	for i := range b {
		b[i] = fill
	}
	for i := 15; i >= 8; i-- {
		b[i] = byte(x)
		x >>= 8
	}
	return b
}

func writeParquet(t *testing.T, path string, rows []pqRow, rowsPerGroup int64) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[pqRow](&buf, parquet.MaxRowsPerRowGroup(rowsPerGroup))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.parquet")
	booked := time.Date(2026, 3, 1, 9, 0, 0, 500_000_000, time.UTC)
	uuid := [16]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00}
	rows := []pqRow{
		{ID: "a", Amount: 1050, Small: ptr(int32(-5)), Wide: be16(-123456789), Booked: booked,
			Micros: booked.UnixMicro() + 1, Nanos: ptr(booked.Add(7)), Local: booked.UnixMilli(),
			Day: int32(time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC).Unix() / 86400), Memo: ptr("zürich-ß-東京-🙂"), Count: -7, Ratio: 0.1,
			Ok: true, Unsign: 4_000_000_000, UUID: uuid, Payload: []byte("raw")},
		{ID: "b", Amount: -1, Wide: be16(0), Booked: time.Unix(0, 0).UTC(), Micros: -1,
			Day: -1, Memo: ptr(""), Ratio: 1e21},
	}
	for i := range 2500 { // several row groups and batches
		rows = append(rows, pqRow{ID: fmt.Sprintf("r%04d", i), Amount: int64(i), Booked: booked})
	}
	writeParquet(t, path, rows, 1000)

	r, err := Open(context.Background(), "file://"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	wantCols := []string{"id", "amount", "small", "wide", "booked_at", "micros", "nanos", "local", "value_date", "memo", "count", "ratio", "ok", "unsign", "uuid", "payload"}
	if !reflect.DeepEqual(r.Columns(), wantCols) {
		t.Fatalf("columns %q", r.Columns())
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows, want %d", len(got), len(rows))
	}
	want0 := []diff.Cell{T("a"), T("10.50"), T("-0.005"), T("-12345.6789"), T("2026-03-01T09:00:00.5Z"),
		T("2026-03-01T09:00:00.500001Z"), T("2026-03-01T09:00:00.500000007Z"), T("2026-03-01T09:00:00.5"),
		T("2026-02-28"), T("zürich-ß-東京-🙂"), T("-7"), T("0.1"), T("true"), T("4000000000"),
		T("123e4567-e89b-12d3-a456-426614174000"), T("raw")}
	want1 := []diff.Cell{T("b"), T("-0.01"), N, T("0.0000"), T("1970-01-01T00:00:00Z"),
		T("1969-12-31T23:59:59.999999Z"), N, T("1970-01-01T00:00:00"),
		T("1969-12-31"), T(""), T("0"), T("1000000000000000000000"), T("false"), T("0"),
		T("00000000-0000-0000-0000-000000000000"), T("")}
	if !reflect.DeepEqual(got[0].cells, want0) {
		t.Errorf("row 1:\n%+v\nwant\n%+v", got[0].cells, want0)
	}
	if !reflect.DeepEqual(got[1].cells, want1) {
		t.Errorf("row 2:\n%+v\nwant\n%+v", got[1].cells, want1)
	}
	last := got[len(got)-1]
	if last.pos != fmt.Sprintf("ledger.parquet row %d", len(rows)) || last.cells[0] != T("r2499") || last.cells[1] != T("24.99") {
		t.Errorf("last row %+v at %s", last.cells[:2], last.pos)
	}

	// Declared columns project and reorder.
	r2, err := Open(context.Background(), path, Options{Columns: []string{"memo", "id"}, OrderedBy: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r2.Close() }()
	if _, ok := r2.(diff.OrderedReader); !ok {
		t.Fatal("OrderedBy did not give an OrderedReader")
	}
	cells, err := r2.Next()
	if err != nil || !reflect.DeepEqual(cells, []diff.Cell{T("zürich-ß-東京-🙂"), T("a")}) {
		t.Fatalf("%+v %v", cells, err)
	}
}

func TestAppendScaled(t *testing.T) {
	for _, c := range []struct {
		x     int64
		scale int
		want  string
	}{{0, 2, "0.00"}, {5, 2, "0.05"}, {-5, 2, "-0.05"}, {1050, 2, "10.50"}, {7, 0, "7"}, {-123, 1, "-12.3"},
		{-9223372036854775808, 2, "-92233720368547758.08"}} {
		if got := string(appendScaled(nil, c.x, c.scale)); got != c.want {
			t.Errorf("appendScaled(%d, %d) = %s, want %s", c.x, c.scale, got, c.want)
		}
	}
	big := [16]byte{0x80} // most negative 128-bit
	if got := string(appendScaledBytes(nil, big[:], 2)); got != "-1701411834604692317316873037158841057.28" {
		t.Errorf("128-bit: %s", got)
	}
}

// Floats are written as the shortest decimal that reads back as the same value, never
// with an exponent: the text a CSV, a JSON line or a database gives for it, and that an
// integer column accepts.
func TestParquetFloatsWithoutExponent(t *testing.T) {
	type row struct {
		D float64 `parquet:"d"`
		F float32 `parquet:"f"`
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[row](&buf)
	in := []row{{1e6, 1e6}, {2.5e7, 0.1}, {1e-5, -1.5e-7}, {999999, 3}, {-2.5, 16777216}}
	if _, err := w.Write(in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := openWritten(t, "f.parquet", buf.Bytes())
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"1000000", "1000000"}, {"25000000", "0.1"}, {"0.00001", "-0.00000015"}, {"999999", "3"}, {"-2.5", "16777216"}}
	for i, w := range want {
		if g := [2]string{got[i].cells[0].Text, got[i].cells[1].Text}; g != w {
			t.Errorf("row %d: %q, want %q", i+1, g, w)
		}
	}
}

// A corrupt Parquet file is an error naming the file (and the row, past the footer),
// never a panic: the library panics on some corrupt pages, and a job's run may be in
// the manager's process. A footer length past the file's end is refused before the
// library would allocate it.
func TestParquetCorruptIsAnError(t *testing.T) {
	// Small row groups of repeated values: dictionary and run-length encoded pages.
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[pqRow](&buf, parquet.MaxRowsPerRowGroup(50))
	var rows []pqRow
	for i := range 120 {
		rows = append(rows, pqRow{ID: "x", Amount: int64(i), Small: ptr(int32(i)), Booked: time.Unix(int64(i), 0), Memo: ptr("m")})
	}
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	read := func(data []byte) (err error) {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("panic: %v", v)
			}
		}()
		r, err := NewParquetReader(bytes.NewReader(data), int64(len(data)), nil, ParquetOptions{Name: "bad.parquet"})
		if err != nil {
			return err
		}
		defer func() { _ = r.Close() }()
		for {
			if _, err := r.Next(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	// Every 97th byte, and those where parquet-go v0.32 panics (found zeroing each byte).
	offsets := []int{615, 2721, 6194, 8300, 11495, 12521, 16053}
	for off := 4; off < len(good)-8; off += 97 {
		offsets = append(offsets, off)
	}
	failed, recovered := 0, 0
	for _, off := range offsets {
		bad := bytes.Clone(good)
		bad[off] = 0
		if err := read(bad); err != nil {
			failed++
			if !strings.Contains(err.Error(), "bad.parquet") {
				t.Errorf("byte %d: error %q does not name the file", off, err)
			}
			if strings.Contains(err.Error(), "corrupt Parquet data") {
				recovered++
			}
		}
	}
	t.Logf("%d bytes zeroed one at a time: %d errors, %d of them panics of the library", len(offsets), failed, recovered)
	if recovered == 0 {
		t.Error("no corruption made the library panic: the test no longer covers the recovery")
	}
	bomb := bytes.Clone(good)
	binary.LittleEndian.PutUint32(bomb[len(bomb)-8:], 0xfffffff0)
	if err := read(bomb); err == nil || !strings.Contains(err.Error(), "footer says 4294967280 bytes") {
		t.Errorf("footer length past the end: %v", err)
	}
}

// openWritten writes data to a file named name and opens it, closed when the test ends.
func openWritten(t *testing.T, name string, data []byte) diff.Reader {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}
