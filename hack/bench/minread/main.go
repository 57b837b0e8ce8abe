// Command minread measures the least a hash run over a CSV pair must do per line in Go,
// without any of the engine: read both files line by line (concurrently, as diff does),
// then cumulatively check quotes and the field count, hash the key and the line (xxhash,
// two maphash values: diff's key hash and 128-bit fingerprint), and append a record to
// one of 256 partitions. No value is validated, nothing is spilled, nothing is joined.
// It bounds from below how fast hash can be on a machine (docs/benchmarks.md, Notes):
//
//	go run ./hack/bench/minread bin/bench-data/csv-10000000-shuffled-seed1-rate0.001
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"os"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

const (
	stageRead = iota
	stageCheck
	stageHash
	stagePartition
)

var stageNames = []string{"read lines", "+ quote and field-count checks", "+ key and line hashes", "+ records into 256 partitions"}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: minread DIR (with source.csv and target.csv)")
		os.Exit(2)
	}
	dir := os.Args[1]
	for stage := range stageNames {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, name := range []string{"source.csv", "target.csv"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = side(dir+"/"+name, stage)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				fmt.Fprintln(os.Stderr, "minread:", err)
				os.Exit(1)
			}
		}
		fmt.Printf("%-32s %v\n", stageNames[stage], time.Since(start).Round(time.Millisecond))
	}
}

func side(path string, stage int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	br := bufio.NewReaderSize(f, 64<<10)
	s1, s2 := maphash.MakeSeed(), maphash.MakeSeed()
	parts := make([][]byte, 256)
	for i := range parts {
		parts[i] = make([]byte, 0, 32<<10)
	}
	var rec [64]byte
	var off, sink uint64
	for {
		line, err := br.ReadSlice('\n')
		if len(line) == 0 || err != nil {
			break
		}
		off += uint64(len(line))
		if stage < stageCheck {
			continue
		}
		if bytes.IndexByte(line, '"') < 0 && bytes.Count(line, []byte{','}) == 0 {
			continue
		}
		if stage < stageHash {
			continue
		}
		k := bytes.IndexByte(line, ',')
		if k < 0 {
			continue
		}
		key := line[:k]
		h := xxhash.Sum64(key)
		a, b := maphash.Bytes(s1, line), maphash.Bytes(s2, line)
		if stage < stagePartition {
			sink += h ^ a ^ b
			continue
		}
		r := append(rec[:0], 1, byte(len(key)+22), byte(len(key)))
		r = append(r, key...)
		r = binary.AppendUvarint(r, off)
		r = binary.LittleEndian.AppendUint64(r, a)
		r = binary.LittleEndian.AppendUint64(r, b)
		p := &parts[h&255]
		if len(*p)+len(r) > cap(*p) {
			*p = (*p)[:0] // as if the chunk went on to a spill file
		}
		*p = append(*p, r...)
	}
	if sink == 1 {
		fmt.Print("") // keeps the hashes of the hash stage
	}
	return nil
}
