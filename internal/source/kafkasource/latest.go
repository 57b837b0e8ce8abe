package kafkasource

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// latest is the state of a LatestPerKey read: the whole snapshot is read first (rows
// are kept in memory, one per partition and key), then the kept rows are returned.
type latest struct {
	keyIdx  []int          // positions of the key columns in Columns()
	index   map[string]int // partition + key tuple -> rows index
	rows    []keptRow
	drained bool
	next    int
	buf     []byte
	// deletes are the tombstones and deletes read, to tell those of a key whose row
	// is in another partition once every partition is read.
	deletes []keyDelete
	// errs are the RowErrors of such deletes, returned after the rows.
	errs []*source.RowError
}

type keptRow struct {
	cells     []diff.Cell
	pos       string
	gone      bool
	key       string // the key tuple without the partition ("" when it has none)
	partition int32
}

type keyDelete struct {
	key       string
	partition int32
	pos       string
}

func newLatest(cols, keys []string) *latest {
	l := &latest{index: map[string]int{}}
	for _, k := range keys {
		for i, c := range cols {
			if c == k {
				l.keyIdx = append(l.keyIdx, i)
			}
		}
	}
	return l
}

// mapKey encodes a partition and a key tuple; ok is false when a key component is
// NULL or empty (no merging: the engine reports such rows as invalid).
func (l *latest) mapKey(partition int32, key []diff.Cell) (string, bool) {
	l.buf = binary.BigEndian.AppendUint32(l.buf[:0], uint32(partition))
	for _, c := range key {
		if c.Null || c.Text == "" {
			return "", false
		}
		l.buf = binary.AppendUvarint(l.buf, uint64(len(c.Text)))
		l.buf = append(l.buf, c.Text...)
	}
	return string(l.buf), true
}

func (r *Reader) nextLatest() ([]diff.Cell, error) {
	l := r.latest
	key := make([]diff.Cell, len(l.keyIdx))
	for !l.drained {
		rec, err := r.take()
		if err == io.EOF {
			l.drained = true
			l.errs = l.unordered()
			break
		}
		if err != nil {
			return nil, err
		}
		kind, err := r.decode(rec)
		if err != nil {
			// A bad record is reported as it is met. When its record key tells whose it
			// is, that key's older row is no longer current: compared as if it were, it
			// would match or mismatch on a stale value.
			if k, kerr := r.deletedKey(rec, key); kerr == nil {
				if i, ok := l.index[k]; ok {
					l.rows[i].gone = true
					delete(l.index, k)
					r.stats.Superseded++
				}
			}
			return nil, err
		}
		if kind != kindRow {
			pos := r.Position()
			k, err := r.deletedKey(rec, key)
			if err != nil {
				return nil, err
			}
			l.deletes = append(l.deletes, keyDelete{key: k[4:], partition: rec.Partition, pos: pos})
			if i, ok := l.index[k]; ok {
				l.rows[i].gone = true
				delete(l.index, k)
				r.stats.Removed++
			}
			continue
		}
		kept := keptRow{cells: cloneCells(r.cells), pos: r.Position(), partition: rec.Partition}
		for j, i := range l.keyIdx {
			key[j] = r.cells[i]
		}
		k, ok := l.mapKey(rec.Partition, key)
		if !ok {
			l.rows = append(l.rows, kept)
			continue
		}
		kept.key = k[4:]
		if i, seen := l.index[k]; seen {
			l.rows[i] = kept
			r.stats.Superseded++
			continue
		}
		l.index[k] = len(l.rows)
		l.rows = append(l.rows, kept)
	}
	for l.next < len(l.rows) {
		kr := &l.rows[l.next]
		l.next++
		if kr.gone {
			continue
		}
		r.rec, r.pos = nil, kr.pos
		return kr.cells, nil
	}
	if len(l.errs) > 0 {
		e := l.errs[0]
		l.errs = l.errs[1:]
		r.rec, r.pos = nil, e.Position
		return nil, e
	}
	return nil, io.EOF
}

// unordered returns a RowError for each tombstone or delete of a key whose current
// row is in another partition: Kafka orders records within a partition only, so
// whether the delete came before or after that row cannot be known. Applied to
// nothing, it would leave the row looking current, and a table that still holds the
// row would match it though the topic says it was deleted.
func (l *latest) unordered() []*source.RowError {
	live := map[string][]int32{}
	for _, kr := range l.rows {
		if !kr.gone && kr.key != "" && !slices.Contains(live[kr.key], kr.partition) {
			live[kr.key] = append(live[kr.key], kr.partition)
		}
	}
	var errs []*source.RowError
	for _, d := range l.deletes {
		for _, p := range live[d.key] {
			if p != d.partition {
				errs = append(errs, &source.RowError{Position: d.pos, Reason: fmt.Sprintf(
					"delete not applied: a row of its key is in partition %d, and which of the two is later cannot be known", p)})
				break
			}
		}
	}
	l.deletes = nil
	return errs
}

// deletedKey is the map key a tombstone or a delete removes, read from the record's
// key: a JSON object holding the key columns (Debezium's {"id": 1}), or, with one key
// column, a JSON scalar or plain text. A delete whose key cannot be told is a
// RowError: the row it meant to remove may still be in the result.
func (r *Reader) deletedKey(rec *kgo.Record, key []diff.Cell) (string, error) {
	l := r.latest
	fail := func(why string) (string, error) {
		return "", &source.RowError{Position: r.Position(),
			Reason: fmt.Sprintf("delete not applied: the record key %s (key columns %s)", why, strings.Join(r.opts.Keys, ", "))}
	}
	if len(rec.Key) == 0 {
		return fail("is empty")
	}
	if json.Valid(rec.Key) {
		if why := badUnicode(rec.Key); why != "" {
			return fail(why)
		}
	}
	switch {
	case json.Valid(rec.Key) && bytes.TrimSpace(rec.Key)[0] == '{':
		ms, err := members(rec.Key)
		if err != nil {
			return fail("is not a JSON object")
		}
		for j, i := range l.keyIdx {
			raw, ok, err := lookup(ms, r.paths[i])
			if err != nil {
				return fail(err.Error())
			}
			if !ok {
				return fail("has no field " + r.cols[i])
			}
			c, err := cellOf(raw)
			if err != nil {
				return fail(err.Error())
			}
			key[j] = c
		}
	case len(l.keyIdx) != 1:
		return fail("is not a JSON object")
	case json.Valid(rec.Key):
		c, err := cellOf(bytes.TrimSpace(rec.Key))
		if err != nil {
			return fail(err.Error())
		}
		key[0] = c
	default:
		key[0] = diff.Cell{Text: string(rec.Key)}
	}
	k, ok := l.mapKey(rec.Partition, key)
	if !ok {
		return fail("holds a NULL or empty key")
	}
	return k, nil
}

func cloneCells(cells []diff.Cell) []diff.Cell {
	out := make([]diff.Cell, len(cells))
	copy(out, cells) // the texts are fresh strings (cellOf copies)
	return out
}
