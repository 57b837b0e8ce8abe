package source

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

func TestJSONL(t *testing.T) {
	data := `{"id":"1","amount":10.50,"big":123456789012345678901234567890.000001,"memo":null,"nested":{"a": [1, 2.0, {"b" : "x y"}] },"ok":true}
{"amount": -0.0e-3 , "id":"2\u00e9\ud83d\ude42\n\"q\"", "extra": 1}

  {"id":"3","memo":"","nested":[ ],"ok":false,"amount":"12,5x"}
{"id":"4", bad json}
[1,2]
{"id":"5","memo":"zürich-ß-東京-🙂","id":"5b"}
`
	r, err := NewJSONLReader(strings.NewReader(data), JSONLOptions{Name: "t.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	// "extra", on the second line only, is learned too.
	if got, want := r.Columns(), []string{"id", "amount", "big", "memo", "nested", "ok", "extra"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("columns %q", got)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{
		{cells: []diff.Cell{T("1"), T("10.50"), T("123456789012345678901234567890.000001"), N, T(`{"a":[1,2.0,{"b":"x y"}]}`), T("true"), N}, pos: "t.jsonl line 1"},
		{cells: []diff.Cell{T("2é🙂\n\"q\""), T("-0.0e-3"), N, N, N, N, T("1")}, pos: "t.jsonl line 2"},
		{cells: []diff.Cell{T("3"), T("12,5x"), N, T(""), T("[]"), T("false"), N}, pos: "t.jsonl line 4"},
		{pos: "t.jsonl line 5", err: `invalid JSON at column 12: expected a member name, found 'b'`},
		{pos: "t.jsonl line 6", err: `invalid JSON at column 1: a line must hold a JSON object, found '['`},
		{cells: []diff.Cell{N, N, N, T("zürich-ß-東京-🙂"), N, N, N}, pos: "t.jsonl line 7", err: `key "id" appears twice in the object`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
}

// Learned columns: the keys of the lines read with the first; a key first seen past
// them makes its line a RowError naming it, never a value dropped unseen. Declared
// columns ignore other keys.
func TestJSONLLearnedColumns(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"id":"1","a":"x"}` + "\n")
	b.WriteString(`{"id":"2","a":"y","b":"3"}` + "\n")
	for i := range 40 {
		fmt.Fprintf(&b, `{"id":"f%d","a":"filler"}`+"\n", i)
	}
	b.WriteString(`{"id":"3","a":"z","late":"!"}` + "\n")
	data := b.String()
	r, err := NewJSONLReader(strings.NewReader(data), JSONLOptions{Name: "t.jsonl", BufferSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Columns(), []string{"id", "a", "b"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("columns %q, want %q", got, want)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if g := got[1]; !reflect.DeepEqual(g.cells, []diff.Cell{T("2"), T("y"), T("3")}) {
		t.Fatalf("line 2: %+v", g)
	}
	last := got[len(got)-1]
	if last.pos != "t.jsonl line 43" || !strings.HasPrefix(last.err, `key "late" is not a column: the columns were learned from the first `) {
		t.Fatalf("last line: %+v", last)
	}
	r, err = NewJSONLReader(strings.NewReader(data), JSONLOptions{Name: "t.jsonl", Columns: []string{"id", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err = readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if e.err != "" {
			t.Fatalf("declared columns: %+v", e)
		}
	}
}

// The columns learned do not depend on how the input arrives: a reader that returns one
// byte at a time (as a gzip stream or an HTTP body may return little) learns what a
// file does, the last line without a line break included; a line that does not parse
// adds none of its keys.
func TestJSONLLearnedColumnsWhateverTheReads(t *testing.T) {
	data := `{"id":"1"}` + "\n" + `{"id":"2","typo":3}junk` + "\n" + `{"id":"3","amount":5}` + "\n" + `{"id":"4","late":1}`
	for _, r := range []io.Reader{strings.NewReader(data), iotest.OneByteReader(strings.NewReader(data)), iotest.HalfReader(strings.NewReader(data))} {
		jr, err := NewJSONLReader(r, JSONLOptions{Name: "t.jsonl"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jr.Columns(), []string{"id", "amount", "late"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("%T: columns %q, want %q", r, got, want)
		}
	}
}

func TestJSONLDeclaredColumnsAndErrors(t *testing.T) {
	data := "{\"b\":1,\"a\":\"x\"}\n{\"a\":\"unterminated}\n{\"a\":01}\n{\"a\":\"ok\"} trailing\n{\"a\":\"tab\there\"}\n{\"a\":{\"x\":}}\n{\"a\":\"fine\"}\n"
	r, err := NewJSONLReader(strings.NewReader(data), JSONLOptions{Columns: []string{"a", "c"}, Name: "d.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 {
		t.Fatalf("%d entries: %+v", len(got), got)
	}
	if !reflect.DeepEqual(got[0].cells, []diff.Cell{T("x"), N}) || !reflect.DeepEqual(got[6].cells, []diff.Cell{T("fine"), N}) {
		t.Fatalf("%+v", got)
	}
	for i := 1; i <= 5; i++ {
		if got[i].err == "" {
			t.Errorf("line %d accepted: %+v", i+1, got[i])
		}
	}
}

func TestJSONLEmptyFile(t *testing.T) {
	r, err := NewJSONLReader(strings.NewReader("\n\n"), JSONLOptions{Name: "e.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil || len(got) != 0 || len(r.Columns()) != 0 {
		t.Fatalf("%v %v %v", got, err, r.Columns())
	}
	if _, err := NewJSONLReader(strings.NewReader("not json\n"), JSONLOptions{Name: "e.jsonl"}); err == nil {
		t.Fatal("a malformed first line without declared columns must fail")
	}
}

func TestJSONLNextDoesNotAllocate(t *testing.T) {
	var sb strings.Builder
	for range 3000 {
		sb.WriteString(`{"id":"k\"1","amount":12.50,"n":{"a":[1, 2]},"memo":null}` + "\n")
	}
	r, err := NewJSONLReader(strings.NewReader(sb.String()), JSONLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if a := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("%v allocations per row", a)
	}
}

// A string with invalid UTF-8 or a lone surrogate escape makes its line invalid:
// encoding/json would read U+FFFD, and "a\xffb" would then equal "a\xfeb".
func TestJSONLInvalidUnicode(t *testing.T) {
	data := "{\"a\":\"a\xffb\"}\n{\"a\":\"\\ud800\"}\n{\"a\":\"\\udc00x\"}\n{\"a\":\"\\ud800\\u0041\"}\n{\"a\xfe\":1}\n{\"a\":\"\\ud83d\\ude00 \xc3\xa9\"}\n"
	r, err := NewJSONLReader(strings.NewReader(data), JSONLOptions{Columns: []string{"a"}, Name: "u.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d entries: %+v", len(got), got)
	}
	for i, want := range []string{"invalid UTF-8", "lone surrogate", "lone surrogate", "lone surrogate", "invalid UTF-8"} {
		if !strings.Contains(got[i].err, want) {
			t.Errorf("line %d: %+v, want an error with %q", i+1, got[i], want)
		}
	}
	if got[5].err != "" || !reflect.DeepEqual(got[5].cells, []diff.Cell{T("\U0001F600 é")}) {
		t.Errorf("line 6: %+v", got[5])
	}
}
