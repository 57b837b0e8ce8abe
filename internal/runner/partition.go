package runner

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// PartitionOf returns the partition (0..count-1) of a row: the xxhash of its key tuple,
// each component the canonical text of the key value under its column's rules (so
// "007" and "7" of an Integer key land together) prefixed by its length (a tuple, not a
// concatenation), modulo count. A row with a NULL, empty or invalid key, or with the
// wrong number of cells, belongs to partition 0. keyIdx is the reader index of each
// key; buf is scratch space reused across calls. The hash is stable across processes
// and versions of Go, so every worker agrees on it.
func PartitionOf(keys []diff.Column, keyIdx []int, ncols int, cells []diff.Cell, count int, buf *[]byte) int {
	if count <= 1 || len(cells) != ncols {
		return 0
	}
	b := (*buf)[:0]
	for i, k := range keys {
		cell := cells[keyIdx[i]]
		if cell.Null {
			return 0
		}
		text := cell.Text
		if plainKey(k) {
			if text == "" {
				return 0
			}
		} else {
			canon, err := k.Normalize(text)
			if err != nil || canon == "" {
				return 0
			}
			text = canon
		}
		b = binary.AppendUvarint(b, uint64(len(text)))
		b = append(b, text...)
	}
	*buf = b
	return int(xxhash.Sum64(b) % uint64(count))
}

// plainKey: a string key compared byte for byte is its own canonical text.
func plainKey(k diff.Column) bool {
	return (k.Type == "" || k.Type == diff.TypeString) && !k.Trim && !k.IgnoreCase
}
