package kafkasource_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
)

// A column's member repeated in one object is an invalid row naming the member, for the
// Kafka reader and the JSON Lines reader alike: which value is the row's is not defined
// (RFC 8259), and picking the last one silently hid a difference in the first. A
// repeated member that is no column is ignored, like any member that is no column.
func TestRepeatedMember(t *testing.T) {
	values := []string{
		`{"id":"1","amount":"10.00","amount":"99.00"}`,
		`{"id":"2","note":"a","note":"b","amount":"5"}`,
		`{"amount":"7","id":"3","id":"4"}`,
		`{"id":"5","amount":"1"}`,
	}
	wantErr := []string{`"amount" appears twice`, "", `"id" appears twice`, ""}
	wantCells := [][]diff.Cell{nil, {T("2"), T("5")}, nil, {T("5"), T("1")}}
	cols := []string{"id", "amount"}

	jr, err := source.NewJSONLReader(strings.NewReader(strings.Join(values, "\n")+"\n"), source.JSONLOptions{Columns: cols, Name: "r.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	jl := readAll(t, jr)

	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "rep", 1)
	for _, v := range values {
		produce(t, pr, &kgo.Record{Topic: "rep", Partition: 0, Value: []byte(v)})
	}
	r, err := kafkasource.Open(t.Context(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "rep"}, kafkasource.Options{Columns: cols, Keys: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	kf := readAll(t, r)

	for name, got := range map[string][]row{"JSON Lines": jl, "Kafka": kf} {
		if len(got) != len(values) {
			t.Fatalf("%s reader: %d rows, want %d: %+v", name, len(got), len(values), got)
		}
		for i, g := range got {
			switch {
			case wantErr[i] == "" && g.err != "":
				t.Errorf("%s reader, %s: refused: %s", name, values[i], g.err)
			case wantErr[i] != "" && !strings.Contains(g.err, wantErr[i]):
				t.Errorf("%s reader, %s: error %q, want it to say %q", name, values[i], g.err, wantErr[i])
			case wantErr[i] == "" && !reflect.DeepEqual(g.cells, wantCells[i]):
				t.Errorf("%s reader, %s: cells %+v, want %+v", name, values[i], g.cells, wantCells[i])
			}
			if strings.Contains(g.err, "99") || strings.Contains(g.err, `"4"`) {
				t.Errorf("%s reader: the reason quotes a value: %s", name, g.err)
			}
		}
	}
}

// The first line of a JSON Lines file without declared columns defines them; a key
// repeated in it makes that line an invalid row, and the rest of the file is read.
func TestJSONLRepeatedKeyInTheFirstLine(t *testing.T) {
	jr, err := source.NewJSONLReader(strings.NewReader("{\"id\":\"1\",\"a\":\"x\",\"a\":\"y\"}\n{\"id\":\"2\",\"a\":\"z\"}\n"), source.JSONLOptions{Name: "f.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, jr)
	want := []row{
		{pos: "f.jsonl line 1", err: `key "a" appears twice in the object`},
		{cells: []diff.Cell{T("2"), T("z")}, pos: "f.jsonl line 2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}
