package kafkasource_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
)

// TestLatestPerKeyDeleteInAnotherPartition: a delete (or tombstone) of a key whose
// row is in another partition (the topic's partitions were increased, or a producer
// keyed it differently) cannot be ordered against that row. Applied nowhere, the row
// would read as current and match a table that still holds it, though the topic says
// it was deleted; it is a RowError naming both partitions instead, whichever
// partition is read first, and the row is still returned.
func TestLatestPerKeyDeleteInAnotherPartition(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "moved", 2)
	after := func(id, amount string) []byte {
		return []byte(`{"before":null,"after":{"id":` + id + `,"amount":"` + amount + `"},"op":"c"}`)
	}
	del := []byte(`{"before":{"id":1},"after":null,"op":"d"}`)
	produce(t, pr,
		&kgo.Record{Topic: "moved", Partition: 0, Key: []byte(`{"id":1}`), Value: after("1", "1.00")},
		&kgo.Record{Topic: "moved", Partition: 1, Key: []byte(`{"id":1}`), Value: del},
		&kgo.Record{Topic: "moved", Partition: 1, Key: []byte(`{"id":1}`)},
		&kgo.Record{Topic: "moved", Partition: 1, Key: []byte(`{"id":2}`), Value: after("2", "2.00")},
		&kgo.Record{Topic: "moved", Partition: 0, Key: []byte(`{"id":2}`)},
		// Deleted and created again in its own partition: nothing to tell.
		&kgo.Record{Topic: "moved", Partition: 0, Key: []byte(`{"id":3}`), Value: del},
		&kgo.Record{Topic: "moved", Partition: 0, Key: []byte(`{"id":3}`), Value: after("3", "3.00")},
	)
	r, err := kafkasource.OpenReader(context.Background(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "moved"},
		kafkasource.Options{ValuePath: "after", Keys: []string{"id"}, Columns: []string{"id", "amount"}, LatestPerKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got := readAll(t, r)
	slices.SortFunc(got, func(a, b row) int { return strings.Compare(a.pos+a.err, b.pos+b.err) })
	want := []row{
		{pos: "moved partition 0 offset 0", cells: []diff.Cell{T("1"), T("1.00")}},
		{pos: "moved partition 0 offset 1", err: "delete not applied: a row of its key is in partition 1, and which of the two is later cannot be known"},
		{pos: "moved partition 0 offset 3", cells: []diff.Cell{T("3"), T("3.00")}},
		{pos: "moved partition 1 offset 0", err: "delete not applied: a row of its key is in partition 0, and which of the two is later cannot be known"},
		{pos: "moved partition 1 offset 1", err: "delete not applied: a row of its key is in partition 0, and which of the two is later cannot be known"},
		{pos: "moved partition 1 offset 2", cells: []diff.Cell{T("2"), T("2.00")}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
}
