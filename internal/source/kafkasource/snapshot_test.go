package kafkasource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
)

// Records deleted under the read (retention, DeleteRecords) leave the snapshot
// incomplete: the reader says so itself ("records deleted under the read ... fatal"),
// but franz-go's default ConsumeResetOffset silently resumes at the new log start.
func TestRecordsDeletedUnderTheReadFailIt(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "del", 1)
	var recs []*kgo.Record
	for i := range 10 {
		recs = append(recs, &kgo.Record{Topic: "del", Partition: 0, Value: fmt.Appendf(nil, `{"id":"%d"}`, i)})
	}
	produce(t, pr, recs...)
	// Hold the reader's first fetch until the deletion is done (deterministic race).
	release := make(chan struct{})
	var once sync.Once
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		once.Do(func() { c.SleepControl(func() { <-release }) })
		return nil, nil, false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := kafkasource.OpenReader(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "del"}, kafkasource.Options{Columns: []string{"id"}, Keys: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	// Retention (or an operator) deletes the first half after the offsets were listed.
	adm := kadm.NewClient(pr)
	o := kadm.Offsets{}
	o.Add(kadm.Offset{Topic: "del", Partition: 0, At: 5})
	if _, err := adm.DeleteRecords(ctx, o); err != nil {
		t.Fatal(err)
	}
	close(release)
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !source.IsRowError(err) {
			t.Logf("fatal error after %d rows (expected): %v", n, err)
			return
		}
		n++
	}
	t.Fatalf("read ended with io.EOF after %d of 10 rows: records deleted under the read were silently skipped, snapshot reported complete", n)
}

// An aborted transaction's records just below the end offset (the last stable offset,
// held back by another producer's open transaction) are filtered by the client: the
// record at end-1 never arrives. The read used to wait for it forever; it now ends at
// the first record past the end (here, once b commits). While b stays open it waits,
// and the run's deadline fails it: never a partial read taken for a whole one.
func TestAbortedRecordBeforeTheEnd(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "tx2", 1)
	produce(t, pr, &kgo.Record{Topic: "tx2", Partition: 0, Value: []byte(`{"id":"plain"}`)})
	a := producer(t, c, true, kgo.TransactionalID("a"))
	b := producer(t, c, true, kgo.TransactionalID("b"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := a.ProduceSync(ctx, &kgo.Record{Topic: "tx2", Partition: 0, Value: []byte(`{"id":"aborted"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := b.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := b.ProduceSync(ctx, &kgo.Record{Topic: "tx2", Partition: 0, Value: []byte(`{"id":"open"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := a.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	info, err := kafkasource.Probe(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "tx2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("offsets %+v", info.Partitions)

	rctx, rcancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer rcancel()
	r, err := kafkasource.OpenReader(rctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "tx2"}, kafkasource.Options{Columns: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	// b's commit writes records past the end offset: they finish the partition.
	go func() {
		time.Sleep(2 * time.Second)
		_ = b.EndTransaction(ctx, kgo.TryCommit)
	}()
	var ids []string
	for {
		cells, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("read never ended (rows so far %q): %v", ids, err)
			}
			t.Fatal(err)
		}
		ids = append(ids, cells[0].Text)
	}
	if len(ids) != 1 || ids[0] != "plain" {
		t.Fatalf("read %q, want [plain]", ids)
	}
}
