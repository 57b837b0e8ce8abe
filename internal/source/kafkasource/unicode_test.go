package kafkasource_test

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
)

// The package doc promises values "follow the JSON Lines reader exactly"; that reader
// (and SEMANTICS.md) makes a lone surrogate escape or invalid UTF-8 in a string an
// invalid row, because encoding/json turns them into U+FFFD and two different values
// become equal. The Kafka reader decodes with encoding/json.
func TestLoneSurrogateAndInvalidUTF8(t *testing.T) {
	values := []string{
		`{"id":"1","ref":"\ud800"}`,
		`{"id":"2","ref":"\udbff"}`,
		"{\"id\":\"3\",\"ref\":\"\xff\"}",
	}
	// The JSON Lines reader on the same lines.
	jr, err := source.NewJSONLReader(strings.NewReader(strings.Join(values, "\n")+"\n"), source.JSONLOptions{Columns: []string{"id", "ref"}})
	if err != nil {
		t.Fatal(err)
	}
	jl := readAll(t, jr)

	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "utf", 1)
	for _, v := range values {
		produce(t, pr, &kgo.Record{Topic: "utf", Partition: 0, Value: []byte(v)})
	}
	r, err := kafkasource.Open(t.Context(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "utf"}, kafkasource.Options{Columns: []string{"id", "ref"}, Keys: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	kf := readAll(t, r)
	for i := range values {
		if (jl[i].err != "") != (kf[i].err != "") {
			t.Errorf("value %q: JSON Lines reader %+v, Kafka reader %+v", values[i], jl[i], kf[i])
		}
	}
}
