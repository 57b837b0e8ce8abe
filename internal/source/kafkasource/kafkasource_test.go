package kafkasource_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/gen"
	"github.com/clearhouse-dev/clearhouse/internal/runner/runnertest"
	"github.com/clearhouse-dev/clearhouse/internal/source"
	"github.com/clearhouse-dev/clearhouse/internal/source/kafkasource"
	"github.com/clearhouse-dev/clearhouse/internal/testcert"
)

// newCluster starts an in-process Kafka (kfake speaks the real wire protocol).
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// producer is a client that writes records where they are told to go (Partition),
// or by key hash when the cluster picks.
func producer(t *testing.T, c *kfake.Cluster, manual bool, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	o := append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(0)}, opts...)
	if manual {
		o = append(o, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(o...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func createTopic(t *testing.T, cl *kgo.Client, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
}

// produceLines writes every non-blank line of a JSON Lines file as one record, keyed
// by the line's number so that the records spread over the partitions.
func produceLines(t *testing.T, cl *kgo.Client, topic, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var recs []*kgo.Record
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "%d", n), Value: []byte(line)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, recs...)
	return len(recs)
}

func specOf(t *testing.T, m *gen.Manifest) diff.Spec {
	t.Helper()
	s, err := m.DiffSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkPositions checks each invalid_row's position against pos[side]: a record is
// named by partition and offset, not by the generator's line number.
func checkPositions(t *testing.T, ds []diff.Discrepancy, pos map[diff.Side]*regexp.Regexp) {
	t.Helper()
	for _, d := range ds {
		if d.Kind == diff.KindInvalidRow && !pos[d.Side].MatchString(d.Position) {
			t.Errorf("invalid_row position %q does not match %s", d.Position, pos[d.Side])
		}
	}
}

// TestGeneratedPair is the end-to-end check: a generated pair written as JSON records
// into two topics (5 and 3 partitions), compared topic with topic and topic with the
// target file, must give exactly the generated expected set.
func TestGeneratedPair(t *testing.T) {
	for _, composite := range []bool{false, true} {
		t.Run(fmt.Sprintf("composite=%v", composite), func(t *testing.T) {
			dir := t.TempDir()
			cfg := gen.DefaultConfig(dir)
			cfg.Rows, cfg.Composite, cfg.Format = 3000, composite, source.FormatJSONL
			m, exp, err := gen.RunExpected(cfg)
			if err != nil {
				t.Fatal(err)
			}
			spec := specOf(t, m)
			c := newCluster(t)
			pr := producer(t, c, false)
			createTopic(t, pr, "source", 5)
			createTopic(t, pr, "target", 3)
			if n := produceLines(t, pr, "source", filepath.Join(dir, "source.jsonl")); int64(n) != m.Source.Rows {
				t.Fatalf("produced %d source records, manifest says %d rows", n, m.Source.Rows)
			}
			if n := produceLines(t, pr, "target", filepath.Join(dir, "target.jsonl")); int64(n) != m.Target.Rows {
				t.Fatalf("produced %d target records, manifest says %d rows", n, m.Target.Rows)
			}
			var keys []string
			for _, k := range spec.Keys {
				keys = append(keys, k.Name)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			openTopic := func(topic string) diff.Reader {
				r, err := kafkasource.Open(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: topic}, kafkasource.Options{Keys: keys})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = r.Close() })
				return r
			}
			openFile := func(name string) diff.Reader {
				r, err := source.Open(ctx, filepath.Join(dir, name), source.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = r.Close() })
				return r
			}
			want := runnertest.Lines(t, (&runnertest.Pair{Expected: exp}).ExpectedDiscrepancies(t))
			wantSum, _ := json.Marshal(exp.Summary)
			for _, other := range []string{"topic", "file"} {
				t.Run("target="+other, func(t *testing.T) {
					src := openTopic("source")
					tgt := openTopic("target")
					tgtPos := regexp.MustCompile(`^target partition [0-2] offset [0-9]+$`)
					if other == "file" {
						tgt = openFile("target.jsonl")
						tgtPos = regexp.MustCompile(`^target\.jsonl line [1-9][0-9]*$`)
					}
					sink := &diff.Collect{}
					sum, err := diff.Run(ctx, spec, src, tgt, sink)
					if err != nil {
						t.Fatal(err)
					}
					if gotSum, _ := json.Marshal(sum); string(gotSum) != string(wantSum) {
						t.Errorf("summary %s\n   want %s", gotSum, wantSum)
					}
					pos := map[diff.Side]*regexp.Regexp{
						diff.SideSource: regexp.MustCompile(`^source partition [0-4] offset [0-9]+$`),
						diff.SideTarget: tgtPos,
					}
					checkPositions(t, sink.Discrepancies, pos)
					runnertest.Equal(t, runnertest.Lines(t, sink.Discrepancies), want)
				})
			}
		})
	}
}

type row struct {
	cells []diff.Cell
	pos   string
	err   string
}

func readAll(t *testing.T, r diff.Reader) []row {
	t.Helper()
	var out []row
	for {
		cells, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			if !source.IsRowError(err) {
				t.Fatalf("fatal error after %d rows: %v", len(out), err)
			}
			var ir diff.InvalidRowError
			if !errors.As(err, &ir) {
				t.Fatalf("%v is not an InvalidRowError", err)
			}
			pos, reason := ir.InvalidRow()
			if pos != r.Position() {
				t.Errorf("RowError position %q, reader position %q", pos, r.Position())
			}
			out = append(out, row{pos: pos, err: reason})
			continue
		}
		out = append(out, row{cells: slices.Clone(cells), pos: r.Position()})
	}
}

var (
	N = diff.Cell{Null: true}
	T = func(s string) diff.Cell { return diff.Cell{Text: s} }
)

// TestValues pins what each record becomes: values as the JSON Lines reader reads
// them, field paths, tombstones, invalid JSON as a RowError that does not end the read.
func TestValues(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "values", 1)
	values := []string{
		`{"id":"1","amount":10.50,"memo":null,"nested":{"a": [1, 2.0, {"b" : "x y"}] },"ok":true,"payment":{"ref":"R1"}}`,
		`{"amount": -0.0e-3 , "id":"2\u00e9\ud83d\ude42\n\"q\"", "extra": 1}`,
		``, // tombstone (nil value)
		`{"id":"3","memo":"","nested":[ ],"ok":false,"amount":"12,5x","payment.ref":"dotted","payment":{"ref":"nested"}}`,
		`{"id":"4", bad json}`,
		`[1,2]`,
		`{"id":"5","id":"5b","payment":{"ref":{"deep":[1]}}}`,
		`{"id":"6"} trailing`,
	}
	var recs []*kgo.Record
	for _, v := range values {
		r := &kgo.Record{Topic: "values", Partition: 0}
		if v != "" {
			r.Value = []byte(v)
		}
		recs = append(recs, r)
	}
	produce(t, pr, recs...)

	ctx := context.Background()
	r, err := kafkasource.OpenReader(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "values"}, kafkasource.Options{Keys: []string{"id"}, Columns: []string{"id", "amount", "memo", "nested", "ok", "payment.ref", "absent.path"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got := readAll(t, r)
	want := []row{
		{cells: []diff.Cell{T("1"), T("10.50"), N, T(`{"a":[1,2.0,{"b":"x y"}]}`), T("true"), T("R1"), N}, pos: "values partition 0 offset 0"},
		{cells: []diff.Cell{T("2é🙂\n\"q\""), T("-0.0e-3"), N, N, N, N, N}, pos: "values partition 0 offset 1"},
		{cells: []diff.Cell{T("3"), T("12,5x"), T(""), T("[]"), T("false"), T("dotted"), N}, pos: "values partition 0 offset 3"},
		{pos: "values partition 0 offset 4", err: "value is not valid JSON: invalid character looking for beginning of object key string (at byte 12)"},
		{pos: "values partition 0 offset 5", err: "value is an array, not a JSON object"},
		{pos: "values partition 0 offset 6", err: `column id: member "id" appears twice in its object`},
		{pos: "values partition 0 offset 7", err: "value is not valid JSON: invalid character after top-level value (at byte 12)"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	if s := r.Stats(); s != (kafkasource.Stats{Tombstones: 1}) {
		t.Errorf("stats %+v", s)
	}

	// Without declared columns: the members of the first rows ("extra" is in the second
	// only), keys added.
	r2, err := kafkasource.Open(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "values", Name: "v"}, kafkasource.Options{Keys: []string{"payment.ref"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r2.Close() }()
	if cols, want := r2.Columns(), []string{"id", "amount", "memo", "nested", "ok", "payment", "extra", "payment.ref"}; !slices.Equal(cols, want) {
		t.Errorf("columns %q, want %q", cols, want)
	}
	rows := readAll(t, r2)
	if len(rows) != 7 || rows[0].pos != "v partition 0 offset 0" || !reflect.DeepEqual(rows[0].cells[5:], []diff.Cell{T(`{"ref":"R1"}`), N, T("R1")}) ||
		!reflect.DeepEqual(rows[1].cells[6], T("1")) {
		t.Errorf("rows %+v", rows)
	}
}

// Columns learned from the first rows; a member first seen past them makes its row a
// RowError naming it, never a value dropped unseen.
func TestLearnedColumnsLateMember(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "late", 1)
	var recs []*kgo.Record
	for i := range 1100 {
		v := fmt.Sprintf(`{"id":"%d","a":"x"}`, i)
		switch i {
		case 5:
			v = `{"id":"5","a":"x","b":"optional"}`
		case 1050:
			v = `{"id":"1050","a":"x","late":"!"}`
		}
		recs = append(recs, &kgo.Record{Topic: "late", Partition: 0, Value: []byte(v)})
	}
	produce(t, pr, recs...)
	r, err := kafkasource.Open(t.Context(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "late", Name: "late"}, kafkasource.Options{Keys: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if cols, want := r.Columns(), []string{"id", "a", "b"}; !slices.Equal(cols, want) {
		t.Fatalf("columns %q, want %q", cols, want)
	}
	rows := readAll(t, r)
	var bad []row
	for _, rw := range rows {
		if rw.err != "" {
			bad = append(bad, rw)
		}
	}
	want := []row{{pos: "late partition 0 offset 1050", err: `member "late" is not a column: the columns were learned from the first 1000 rows; declare the columns to read it`}}
	if len(rows) != 1100 || !reflect.DeepEqual(bad, want) {
		t.Fatalf("%d rows, errors %+v", len(rows), bad)
	}
}

// TestDebezium reads change events through ValuePath "after": creates, updates and
// snapshot reads are rows; a delete ("after": null) and its tombstone are not.
func TestDebezium(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "cdc.public.entries", 2)
	ev := func(p int32, key, value string) *kgo.Record {
		r := &kgo.Record{Topic: "cdc.public.entries", Partition: p, Key: []byte(key)}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	produce(t, pr,
		ev(0, `{"id":1}`, `{"before":null,"after":{"id":1,"amount":"10.50","memo":null},"op":"r","ts_ms":1}`),
		ev(1, `{"id":2}`, `{"before":null,"after":{"id":2,"amount":"7.00","memo":"x"},"op":"c","ts_ms":2}`),
		ev(1, `{"id":2}`, `{"before":{"id":2},"after":null,"op":"d","ts_ms":3}`),
		ev(1, `{"id":2}`, ""),
		ev(0, `{"id":3}`, `{"op":"m","content":"a logical decoding message"}`),
		ev(0, `{"id":4}`, `{"before":null,"after":"not an object","op":"c"}`),
	)
	r, err := kafkasource.OpenReader(context.Background(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "cdc.public.entries"},
		kafkasource.Options{ValuePath: "after", Keys: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if cols, want := r.Columns(), []string{"id", "amount", "memo"}; !slices.Equal(cols, want) {
		t.Fatalf("columns %q, want %q", cols, want)
	}
	got := readAll(t, r)
	slices.SortFunc(got, func(a, b row) int { return strings.Compare(a.pos, b.pos) })
	want := []row{
		{cells: []diff.Cell{T("1"), T("10.50"), N}, pos: "cdc.public.entries partition 0 offset 0"},
		{pos: "cdc.public.entries partition 0 offset 1", err: "value has no field after"},
		{pos: "cdc.public.entries partition 0 offset 2", err: "field after is a string, not a JSON object"},
		{cells: []diff.Cell{T("2"), T("7.00"), T("x")}, pos: "cdc.public.entries partition 1 offset 0"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	if s := r.Stats(); s != (kafkasource.Stats{Tombstones: 1, Deletes: 1}) {
		t.Errorf("stats %+v", s)
	}
}

// TestSnapshotStopsAtStartOffsets: records written after Open are not read, an empty
// topic reads nothing, and committed transactions are read up to their marker while
// aborted ones are not.
func TestSnapshotBounds(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "bounded", 2)
	createTopic(t, pr, "empty", 3)
	rec := func(p int32, id string) *kgo.Record {
		return &kgo.Record{Topic: "bounded", Partition: p, Value: []byte(`{"id":"` + id + `"}`)}
	}
	produce(t, pr, rec(0, "a"), rec(1, "b"), rec(0, "c"))
	ctx := context.Background()
	cfg := kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "bounded"}
	r, err := kafkasource.Open(ctx, cfg, kafkasource.Options{Columns: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	produce(t, pr, rec(0, "late"), rec(1, "late"))
	var ids []string
	for _, row := range readAll(t, r) {
		ids = append(ids, row.cells[0].Text)
	}
	slices.Sort(ids)
	if want := []string{"a", "b", "c"}; !slices.Equal(ids, want) {
		t.Errorf("read %q, want %q", ids, want)
	}

	e, err := kafkasource.Open(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "empty"}, kafkasource.Options{Keys: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close() }()
	if rows := readAll(t, e); len(rows) != 0 || !slices.Equal(e.Columns(), []string{"id"}) {
		t.Errorf("empty topic: rows %+v, columns %q", rows, e.Columns())
	}

	// Transactions: one committed, one aborted, one committed last.
	tx := producer(t, c, true, kgo.TransactionalID("clearhouse-test"))
	ctxT, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	createTopic(t, pr, "txn", 1)
	for i, commit := range []bool{true, false, true} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 2 {
			r := &kgo.Record{Topic: "txn", Partition: 0, Value: fmt.Appendf(nil, `{"id":"t%d-%d"}`, i, j)}
			if err := tx.ProduceSync(ctxT, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctxT, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := kafkasource.OpenReader(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "txn"}, kafkasource.Options{Columns: []string{"id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Close() }()
	ids = nil
	for _, row := range readAll(t, tr) {
		ids = append(ids, row.cells[0].Text)
	}
	if want := []string{"t0-0", "t0-1", "t2-0", "t2-1"}; !slices.Equal(ids, want) {
		t.Errorf("transactional topic: read %q, want %q", ids, want)
	}
	if s := tr.Stats(); s.Control != 3 {
		t.Errorf("stats %+v, want 3 control records", s)
	}
}

func TestProbe(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "probed", 3)
	var recs []*kgo.Record
	for p, n := range []int{2, 0, 5} {
		for range n {
			recs = append(recs, &kgo.Record{Topic: "probed", Partition: int32(p), Value: []byte(`{}`)})
		}
	}
	produce(t, pr, recs...)
	ctx := context.Background()
	info, err := kafkasource.Probe(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "probed"})
	if err != nil {
		t.Fatal(err)
	}
	want := kafkasource.Info{Topic: "probed", Records: 7, Partitions: []kafkasource.Partition{
		{Partition: 0, Start: 0, End: 2}, {Partition: 1, Start: 0, End: 0}, {Partition: 2, Start: 0, End: 5},
	}}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("info %+v\nwant %+v", info, want)
	}

	_, err = kafkasource.Probe(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "nope"})
	if want := `kafka topic "nope" (brokers ` + strings.Join(c.ListenAddrs(), ",") + `) does not exist`; err == nil || err.Error() != want || !errors.Is(err, kafkasource.ErrTopicNotFound) {
		t.Errorf("missing topic: error %v, want %q matching ErrTopicNotFound", err, want)
	}
	_, err = kafkasource.Open(ctx, kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "nope"}, kafkasource.Options{})
	if err == nil || !strings.Contains(err.Error(), `kafka topic "nope"`) {
		t.Errorf("open missing topic: %v", err)
	}
}

func TestProbeUnreachable(t *testing.T) {
	// A port nothing listens on: connections are refused until the timeout.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	_, err = kafkasource.Probe(context.Background(), kafkasource.Config{Brokers: []string{addr}, Topic: "t", Timeout: time.Second})
	if err == nil {
		t.Fatal("no error")
	}
	want := `kafka topic "t" (brokers ` + addr + `): read metadata: `
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}

	// A broker that accepts connections and never answers: the timeout ends the wait.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = silent.Close() }()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	_, err = kafkasource.Probe(context.Background(), kafkasource.Config{Brokers: []string{silent.Addr().String()}, Topic: "t", Timeout: time.Second})
	want = `kafka topic "t" (brokers ` + silent.Addr().String() + `): read metadata: brokers not reachable within 1s: `
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, kafkasource.ErrUnreachable) {
		t.Errorf("silent broker: error %v, want it to start with %q and match ErrUnreachable", err, want)
	}
}

func TestSASL(t *testing.T) {
	const user, pass = "clearhouse", "s3cret-Pa55"
	c := newCluster(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", user, pass))
	cfg := kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "secured", Username: user, Password: pass}
	pr := producer(t, c, true, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
	createTopic(t, pr, "secured", 1)
	produce(t, pr, &kgo.Record{Topic: "secured", Value: []byte(`{"id":"1"}`)})
	r, err := kafkasource.Open(context.Background(), cfg, kafkasource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if rows := readAll(t, r); len(rows) != 1 || rows[0].cells[0] != T("1") {
		t.Errorf("rows %+v", rows)
	}

	bad := cfg
	bad.Password, bad.Timeout = "wrong-password-xyz", 2*time.Second
	_, err = kafkasource.Probe(context.Background(), bad)
	if err == nil {
		t.Fatal("wrong password: no error")
	}
	if strings.Contains(err.Error(), bad.Password) || strings.Contains(err.Error(), pass) {
		t.Errorf("error shows a password: %v", err)
	}
	if !strings.Contains(err.Error(), `kafka topic "secured"`) {
		t.Errorf("error %v does not name the topic", err)
	}
}

// TestLatestPerKey reads a Debezium change stream as the table it describes: the last
// version of each key in its partition, deleted keys gone, a re-created key back, a
// key found in two partitions twice, and deletes whose key cannot be told reported.
func TestLatestPerKey(t *testing.T) {
	c := newCluster(t)
	pr := producer(t, c, true)
	createTopic(t, pr, "cdc", 2)
	ev := func(p int32, key, value string) *kgo.Record {
		r := &kgo.Record{Topic: "cdc", Partition: p}
		if key != "" {
			r.Key = []byte(key)
		}
		if value != "" {
			r.Value = []byte(value)
		}
		return r
	}
	after := func(id, amount string) string {
		return `{"before":null,"after":{"id":` + id + `,"amount":"` + amount + `"},"op":"u"}`
	}
	del := `{"before":{"id":0},"after":null,"op":"d"}`
	produce(t, pr,
		ev(0, `{"id":1}`, after("1", "1.00")),                       // p0 offset 0
		ev(1, `{"id":2}`, after("2", "2.00")),                       // p1 offset 0
		ev(0, `{"id":1}`, after("1", "1.10")),                       // p0 offset 1
		ev(1, `{"id":2}`, del),                                      // p1 offset 1: delete event
		ev(1, `{"id":2}`, ""),                                       // p1 offset 2: its tombstone (nothing left to remove)
		ev(0, `{"id":3}`, after("3", "3.00")),                       // p0 offset 2
		ev(0, `{"id":3}`, ""),                                       // p0 offset 3: tombstone
		ev(0, `{"id":3}`, after("3", "3.30")),                       // p0 offset 4: created again
		ev(0, `{"id":4}`, after("4", "4.00")),                       // p0 offset 5
		ev(1, `{"id":4}`, after("4", "4.44")),                       // p1 offset 3: same key, other partition
		ev(0, `{"id":1}`, after("1", "1.11")),                       // p0 offset 6: latest of 1
		ev(1, `5`, after("5", "5.00")),                              // p1 offset 4
		ev(1, `5`, ""),                                              // p1 offset 5: plain-text key deletes 5
		ev(1, ``, ""),                                               // p1 offset 6: no key: cannot be applied
		ev(0, `{"ref":9}`, del),                                     // p0 offset 7: key without the key column
		ev(0, `{"id":6}`, `not json`),                               // p0 offset 8
		ev(0, `{"id":null}`, `{"after":{"id":null,"amount":"0"}}`),  // p0 offset 9: NULL key, kept as is
		ev(0, `{"id":null}`, `{"after":{"id":null,"amount":"00"}}`), // p0 offset 10: not merged
		ev(0, `{"id":4}`, `{"after":"oops"}`),                       // p0 offset 11: 4's latest is no row: 4.00 is gone
	)
	r, err := kafkasource.OpenReader(context.Background(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "cdc"},
		kafkasource.Options{ValuePath: "after", Keys: []string{"id"}, Columns: []string{"id", "amount"}, LatestPerKey: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	got := readAll(t, r)
	slices.SortFunc(got, func(a, b row) int { return strings.Compare(a.pos, b.pos) })
	want := []row{
		{pos: "cdc partition 0 offset 10", cells: []diff.Cell{N, T("00")}},
		{pos: "cdc partition 0 offset 11", err: "field after is a string, not a JSON object"},
		{pos: "cdc partition 0 offset 4", cells: []diff.Cell{T("3"), T("3.30")}},
		{pos: "cdc partition 0 offset 6", cells: []diff.Cell{T("1"), T("1.11")}},
		{pos: "cdc partition 0 offset 7", err: "delete not applied: the record key has no field id (key columns id)"},
		{pos: "cdc partition 0 offset 8", err: "value is not valid JSON: invalid character in literal null (expecting 'u') (at byte 2)"},
		{pos: "cdc partition 0 offset 9", cells: []diff.Cell{N, T("0")}},
		{pos: "cdc partition 1 offset 3", cells: []diff.Cell{T("4"), T("4.44")}},
		{pos: "cdc partition 1 offset 6", err: "delete not applied: the record key is empty (key columns id)"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
	if s, want := r.Stats(), (kafkasource.Stats{Tombstones: 4, Deletes: 2, Superseded: 3, Removed: 3}); s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}

	if _, err := kafkasource.Open(context.Background(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "cdc"}, kafkasource.Options{LatestPerKey: true}); err == nil || !strings.Contains(err.Error(), "needs key columns") {
		t.Errorf("no keys: %v", err)
	}
}

// TestTLS reads over TLS from a broker with a certificate of a test CA; without that
// CA the handshake fails with an error naming the topic.
func TestTLS(t *testing.T) {
	certs := testcert.New(t)
	c := newCluster(t, kfake.TLS(certs.Server))
	clientTLS := &tls.Config{RootCAs: certs.Pool, MinVersion: tls.VersionTLS12}
	pr := producer(t, c, true, kgo.DialTLSConfig(clientTLS.Clone()))
	createTopic(t, pr, "tls", 1)
	produce(t, pr, &kgo.Record{Topic: "tls", Value: []byte(`{"id":"1"}`)})
	r, err := kafkasource.Open(context.Background(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "tls", TLSConfig: clientTLS}, kafkasource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close() }()
	if rows := readAll(t, r); len(rows) != 1 || rows[0].cells[0] != T("1") {
		t.Errorf("rows %+v", rows)
	}
	_, err = kafkasource.Probe(context.Background(), kafkasource.Config{Brokers: c.ListenAddrs(), Topic: "tls", TLS: true, Timeout: 2 * time.Second})
	if err == nil || !strings.Contains(err.Error(), `kafka topic "tls"`) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA: error %v", err)
	}
}
