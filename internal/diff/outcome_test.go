package diff

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDiscrepancyJSON(t *testing.T) {
	id := func(v string) []KeyValue { return []KeyValue{{Name: "id", Value: Cell{Text: v}}} }
	tests := []struct {
		d    Discrepancy
		want string
	}{
		{Discrepancy{Kind: KindMismatch, Key: id("42"), Columns: []ColumnDiff{{Name: "amount", Source: Cell{Text: "10.00"}, Target: Cell{Text: "10.50"}}}},
			`{"kind":"mismatch","key":{"id":"42"},"columns":[{"name":"amount","source":"10.00","target":"10.50"}]}`},
		{Discrepancy{Kind: KindDuplicateKey, Key: id("7"), Side: SideSource, Count: 2},
			`{"kind":"duplicate_key","key":{"id":"7"},"side":"source","count":2}`},
		{Discrepancy{Kind: KindInvalidRow, Key: id(""), Side: SideTarget, Reason: "key column id is empty", Position: "b.csv line 9"},
			`{"kind":"invalid_row","key":{"id":""},"side":"target","reason":"key column id is empty","position":"b.csv line 9"}`},
		{Discrepancy{Kind: KindMissingInTarget, Key: []KeyValue{{Name: "b", Value: Cell{Text: "x\"y"}}, {Name: "a", Value: Cell{Null: true}}}},
			`{"kind":"missing_in_target","key":{"b":"x\"y","a":null}}`},
		{Discrepancy{Kind: KindMismatch, Key: id("1"), Columns: []ColumnDiff{{Name: "n", Source: Cell{Null: true}, Target: Cell{Text: ""}}}},
			`{"kind":"mismatch","key":{"id":"1"},"columns":[{"name":"n","source":null,"target":""}]}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.d)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal = %s, %v\nwant %s", got, err, tt.want)
		}
		var back Discrepancy
		if err := json.Unmarshal(got, &back); err != nil || !reflect.DeepEqual(back, tt.d) {
			t.Errorf("Unmarshal(%s) = %+v, %v", got, back, err)
		}
	}
}

func TestSummaryJSON(t *testing.T) {
	s := Summary{Compared: 10, Matched: 4, MissingInTarget: 1, MissingInSource: 1, Mismatched: 2, DuplicateKeys: 1, InvalidRows: 1, SourceRows: 9, TargetRows: 9, Strategy: StrategyHash}
	got, _ := json.Marshal(s)
	want := `{"compared":10,"matched":4,"missingInTarget":1,"missingInSource":1,"mismatched":2,"duplicateKeys":1,"invalidRows":1,"truncated":false}`
	if string(got) != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if s.Discrepancies() != 6 {
		t.Errorf("Discrepancies() = %d", s.Discrepancies())
	}
}

func TestJSONLinesSink(t *testing.T) {
	var buf bytes.Buffer
	j := NewJSONLines(&buf)
	for _, id := range []string{"1", "2"} {
		if err := j.Emit(Discrepancy{Kind: KindMissingInSource, Key: []KeyValue{{Name: "id", Value: Cell{Text: id}}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "{\"kind\":\"missing_in_source\",\"key\":{\"id\":\"1\"}}\n{\"kind\":\"missing_in_source\",\"key\":{\"id\":\"2\"}}\n"
	if buf.String() != want {
		t.Errorf("got %q", buf.String())
	}
}

func TestSortDiscrepancies(t *testing.T) {
	k := func(v string) []KeyValue { return []KeyValue{{Name: "id", Value: Cell{Text: v}}} }
	ds := []Discrepancy{
		{Kind: KindInvalidRow, Side: SideTarget, Key: k("a")},
		{Kind: KindDuplicateKey, Side: SideTarget, Key: k("a")},
		{Kind: KindInvalidRow, Side: SideSource, Key: k("b")},
		{Kind: KindMismatch, Key: k("b")},
		{Kind: KindMismatch, Key: k("a")},
		{Kind: KindMissingInSource, Key: k("a")},
		{Kind: KindMissingInTarget, Key: []KeyValue{{Name: "id", Value: Cell{Null: true}}}},
		{Kind: KindMissingInTarget, Key: k("a")},
		{Kind: KindDuplicateKey, Side: SideSource, Key: k("z")},
	}
	SortDiscrepancies(ds)
	var got []string
	for _, d := range ds {
		got = append(got, string(d.Kind)+"/"+string(d.Side)+"/"+d.Key[0].Value.Text)
	}
	want := "missing_in_target//,missing_in_target//a,missing_in_source//a,mismatch//a,mismatch//b,duplicate_key/source/z,duplicate_key/target/a,invalid_row/source/b,invalid_row/target/a"
	if strings.Join(got, ",") != want {
		t.Errorf("order\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}

func TestValidate(t *testing.T) {
	ok := Spec{Keys: []Column{{Name: "id"}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	tests := []struct {
		name string
		spec Spec
		want []string
	}{
		{"no keys", Spec{}, []string{"keys: at least one key column"}},
		{"key name", Spec{Keys: []Column{{}}}, []string{"keys[0].name: required"}},
		{"negative abs", Spec{Keys: ok.Keys, Compare: []Column{{Name: "a"}, {Name: "b"}, {Name: "c", Type: TypeDecimal, AbsTolerance: "-1"}}},
			[]string{"compare[2].absTolerance: must be >= 0"}},
		{"bad rel", Spec{Keys: ok.Keys, Compare: []Column{{Name: "c", Type: TypeDecimal, RelTolerance: "1%"}}},
			[]string{`compare[0].relTolerance: "1%" is not a decimal number`}},
		{"tolerance on string", Spec{Keys: ok.Keys, Compare: []Column{{Name: "c", AbsTolerance: "1"}}},
			[]string{"compare[0].absTolerance: only for integer or decimal columns (type is string)"}},
		{"tolerance on key", Spec{Keys: []Column{{Name: "id", Type: TypeInteger, AbsTolerance: "1"}}},
			[]string{"keys[0].absTolerance: not allowed on a key column"}},
		{"time tolerance", Spec{Keys: ok.Keys, Compare: []Column{{Name: "c", Type: TypeDecimal, TimeTolerance: time.Second}, {Name: "d", Type: TypeTimestamp, TimeTolerance: -1}}},
			[]string{"compare[0].timeTolerance: only for timestamp or date columns (type is decimal)", "compare[1].timeTolerance: must be >= 0"}},
		{"precision", Spec{Keys: ok.Keys, Compare: []Column{{Name: "c", Type: TypeTimestamp, Precision: 7 * time.Millisecond}}},
			[]string{"compare[0].precision: 7ms must divide a second or be a whole number of seconds"}},
		{"unknown type", Spec{Keys: ok.Keys, Compare: []Column{{Name: "c", Type: "money"}}}, []string{`compare[0].type: unknown type "money"`}},
		{"json key", Spec{Keys: []Column{{Name: "id", Type: TypeJSON}}}, []string{"keys[0].type: json is not allowed for a key column"}},
		{"ignoreCase typed", Spec{Keys: ok.Keys, Compare: []Column{{Name: "c", Type: TypeInteger, IgnoreCase: true}}},
			[]string{"compare[0].ignoreCase: only for string columns (type is integer)"}},
		{"duplicate columns", Spec{Keys: []Column{{Name: "id"}, {Name: "id"}}, Compare: []Column{{Name: "id"}, {Name: "x"}, {Name: "x"}}},
			[]string{`keys[1].name: "id" is already keys[0]`, `compare[0].name: "id" is a key column (keys[0])`, `compare[2].name: "x" is already compare[1]`}},
		{"limits", Spec{Keys: ok.Keys, Strategy: "fast", MaxDiscrepancies: -1, RowsPerSecond: -1, MemoryBudget: 10},
			[]string{`strategy: unknown strategy "fast"`, "maxDiscrepancies: must be >= 0", "rowsPerSecond: must be >= 0", "memoryBudget: must be at least 65536 bytes"}},
	}
	for _, tt := range tests {
		err := tt.spec.Validate()
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.name, err, w)
			}
		}
	}
}

func TestCheckColumns(t *testing.T) {
	spec := Spec{Keys: []Column{{Name: "id"}}, Compare: []Column{{Name: "amount", Target: "amt"}, {Name: "ghost"}}}
	err := spec.CheckColumns([]string{"id", "amount"}, []string{"id", "amount"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{
		`target: column "amt" (compare[0].target) is not among the target columns [id amount]`,
		`source: column "ghost" (compare[1].name) is not among the source columns [id amount]`,
		`target: column "ghost" (compare[1].name) is not among the target columns`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	// A side without columns (an empty JSON Lines file whose columns are learned) says so.
	err = Spec{Keys: []Column{{Name: "id"}}}.CheckColumns([]string{"id"}, nil)
	if w := `target: column "id" (keys[0].name): the target has no columns (an empty file read without declared columns?)`; err == nil || err.Error() != w {
		t.Errorf("no target columns: %v, want %q", err, w)
	}
	// Run reports the same, wrapped.
	_, err = Run(t.Context(), spec, newSliceReader("s", []string{"id", "amount"}, nil), newSliceReader("t", []string{"id", "amount"}, nil), &Collect{})
	if err == nil || !strings.Contains(err.Error(), "diff: invalid spec: ") || !strings.Contains(err.Error(), `"amt"`) {
		t.Errorf("Run: %v", err)
	}
}
