package source

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

func randCSVText(r *rand.Rand) string {
	alpha := []string{"a", "b", ",", "\"", "\n", "\r\n", " ", "\r", "é", "x"}
	n := r.Intn(6)
	if r.Intn(20) == 0 {
		n = 300 + r.Intn(800)
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(alpha[r.Intn(len(alpha))])
	}
	return b.String()
}

func randCSVField(r *rand.Rand, c diff.Cell) string {
	if c.Null {
		return ""
	}
	s := c.Text
	if s != "" && !strings.ContainsAny(s, ",\"\r\n") && r.Intn(2) == 0 {
		return s
	}
	return "\"" + strings.ReplaceAll(s, "\"", "\"\"") + "\""
}

func TestCSVRandomAgainstBuffers(t *testing.T) {
	for seed := int64(0); seed < 300; seed++ {
		r := rand.New(rand.NewSource(seed))
		ncol := 1 + r.Intn(4)
		var buf bytes.Buffer
		if r.Intn(2) == 0 {
			buf.WriteString("\xEF\xBB\xBF")
		}
		hdr := []string{}
		for i := 0; i < ncol; i++ {
			hdr = append(hdr, fmt.Sprintf("c%d", i))
		}
		buf.WriteString(strings.Join(hdr, ",") + "\n")
		var want [][]diff.Cell
		nrec := 1 + r.Intn(40)
		for k := 0; k < nrec; k++ {
			row := make([]diff.Cell, ncol)
			for i := range row {
				if r.Intn(4) == 0 {
					row[i] = diff.Cell{Null: true}
				} else {
					row[i] = diff.Cell{Text: randCSVText(r)}
				}
			}
			if ncol == 1 && row[0].Null {
				row[0] = diff.Cell{Text: ""}
			}
			want = append(want, row)
			var parts []string
			for _, c := range row {
				parts = append(parts, randCSVField(r, c))
			}
			buf.WriteString(strings.Join(parts, ","))
			if k == nrec-1 && r.Intn(2) == 0 {
				break
			}
			if r.Intn(2) == 0 {
				buf.WriteString("\r\n")
			} else {
				buf.WriteString("\n")
			}
			if r.Intn(6) == 0 {
				buf.WriteString("\n")
			}
		}
		data := buf.Bytes()
		for _, bs := range []int{16, 17, 33, 64, 4096} {
			cr, err := NewCSVReader(bytes.NewReader(data), CSVOptions{Name: "r.csv", BufferSize: bs})
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			var got [][]diff.Cell
			for {
				cells, err := cr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("seed %d bs %d: %v", seed, bs, err)
				}
				got = append(got, cloneCells(cells))
			}
			if !reflect.DeepEqual(got, want) {
				for i := range want {
					if i >= len(got) || !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("seed %d bs %d: record %d: got %+v want %+v\n%q", seed, bs, i, safeIdx(got, i), want[i], data)
					}
				}
				t.Fatalf("seed %d bs %d: got %d records want %d", seed, bs, len(got), len(want))
			}
		}
		// Refetch consistency through Open.
		path := filepath.Join(t.TempDir(), "r.csv")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		rd, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		rf := rd.(diff.Refetcher)
		i := 0
		for {
			cells, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			c1 := cloneCells(cells)
			c2, _, err := rf.Refetch(rf.Locator())
			if err != nil {
				t.Fatalf("seed %d rec %d refetch: %v", seed, i, err)
			}
			if !reflect.DeepEqual(c1, cloneCells(c2)) {
				t.Fatalf("seed %d rec %d refetch differs: %+v vs %+v", seed, i, c1, c2)
			}
			i++
		}
		_ = rd.Close()
	}
}

func safeIdx(g [][]diff.Cell, i int) any {
	if i < len(g) {
		return g[i]
	}
	return nil
}
