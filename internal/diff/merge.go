package diff

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// Sorted merge. Each side is read and encoded by its own goroutine into batches of
// records, which also checks that keys never go down; the calling goroutine merges the
// two streams group by group. Memory is a few batches per side plus, per side, one copy
// of the first record of the current group: duplicates are counted, not kept.

const (
	batchRows  = 256
	batchBytes = 32 << 10
)

type batch struct {
	buf  []byte
	offs []int32
	err  error // set on a side's last batch: io.EOF or why reading stopped
}

func (r *run) merge(ctx context.Context) error {
	var wg sync.WaitGroup
	var cur [2]*mcursor
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
	}()
	for side := 0; side < 2; side++ {
		r.sides[side].enc.noHash = true
		n := r.o.mergeBatches
		in := make(chan *batch, n)
		free := make(chan *batch, n)
		for i := 0; i < n; i++ {
			free <- &batch{}
		}
		cur[side] = &mcursor{in: in, free: free, side: side}
		wg.Add(1)
		go func(s *sideReader) {
			defer wg.Done()
			r.mergeRead(ctx, s, in, free)
		}(r.sides[side])
	}
	m := merger{r: r, x: r.x, p: r.p}
	gs, okS, err := m.nextGroup(ctx, cur[0])
	if err != nil {
		return err
	}
	gt, okT, err := m.nextGroup(ctx, cur[1])
	if err != nil {
		return err
	}
	for n := 0; okS || okT; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return wrapCtx(err)
			}
		}
		c := 0
		switch {
		case !okT:
			c = -1
		case !okS:
			c = 1
		default:
			c = r.p.cmpKey(recKey(gs.first), recKey(gt.first))
		}
		switch {
		case c < 0:
			if err := r.x.decide(gs.first, gs.count, nil, 0); err != nil {
				return err
			}
			if gs, okS, err = m.nextGroup(ctx, cur[0]); err != nil {
				return err
			}
		case c > 0:
			if err := r.x.decide(nil, 0, gt.first, gt.count); err != nil {
				return err
			}
			if gt, okT, err = m.nextGroup(ctx, cur[1]); err != nil {
				return err
			}
		default:
			if err := r.x.decide(gs.first, gs.count, gt.first, gt.count); err != nil {
				return err
			}
			if gs, okS, err = m.nextGroup(ctx, cur[0]); err != nil {
				return err
			}
			if gt, okT, err = m.nextGroup(ctx, cur[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeRead fills batches with one side's records until the end, an error or ctx is done.
func (r *run) mergeRead(ctx context.Context, s *sideReader, out chan<- *batch, free <-chan *batch) {
	var prev []byte
	hasPrev := false
	for {
		var b *batch
		select {
		case b = <-free:
		case <-ctx.Done():
			return
		}
		b.buf, b.offs, b.err = b.buf[:0], b.offs[:0], nil
		for len(b.offs) < batchRows && len(b.buf) < batchBytes {
			cells, err := s.next(ctx)
			if err != nil {
				b.err = err
				break
			}
			off := len(b.buf)
			b.buf = s.enc.encode(b.buf, cells, s.r)
			rec := b.buf[off:]
			if recFlags(rec)&flagInvalidKey == 0 {
				key := recKey(rec)
				if hasPrev && r.p.cmpKey(prev, key) > 0 {
					b.err = fmt.Errorf("diff: merge: %s is not in key order: the row at %s has key %s after key %s",
						sideName(s.side), s.r.Position(), r.p.formatKey(key), r.p.formatKey(prev))
					b.buf = b.buf[:off]
					break
				}
				prev = append(prev[:0], key...)
				hasPrev = true
			}
			b.offs = append(b.offs, int32(off))
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if b.err != nil {
			return
		}
	}
}

// mcursor walks one side's batches.
type mcursor struct {
	in      <-chan *batch
	free    chan<- *batch
	b       *batch
	i       int
	side    int
	scratch []byte
}

func (c *mcursor) atEnd() bool { return c.b == nil || c.i >= len(c.b.offs) }

// peek returns the current record, nil at the end of the side.
func (c *mcursor) peek(ctx context.Context) ([]byte, error) {
	for c.atEnd() {
		if c.b != nil {
			if c.b.err != nil {
				if c.b.err == io.EOF {
					return nil, nil
				}
				return nil, wrapCtx(c.b.err)
			}
			c.free <- c.b // never blocks: free has room for every batch
			c.b = nil
		}
		select {
		case b := <-c.in:
			c.b, c.i = b, 0
		case <-ctx.Done():
			return nil, wrapCtx(ctx.Err())
		}
	}
	return c.b.buf[c.b.offs[c.i]:], nil
}

type group struct {
	first []byte // the group's first record
	count int64
}

type merger struct {
	r *run
	x *emitter
	p *plan
}

// nextGroup returns the next run of records with equal keys on one side, reporting the
// rows without a usable key on the way.
func (m *merger) nextGroup(ctx context.Context, c *mcursor) (group, bool, error) {
	var g group
	for {
		rec, err := c.peek(ctx)
		if err != nil || rec == nil {
			return g, false, err
		}
		c.i++
		if recFlags(rec)&flagInvalidKey != 0 {
			if err := m.x.invalidRow(rec, c.side); err != nil {
				return g, false, err
			}
			continue
		}
		g.first, g.count = rec, 1
		break
	}
	key := recKey(g.first)
	copied := false
	for {
		if !copied && c.atEnd() {
			// The batch holding the first record is about to be recycled.
			c.scratch = append(c.scratch[:0], g.first[:recLen(g.first)]...)
			g.first = c.scratch
			key = recKey(g.first)
			copied = true
		}
		rec, err := c.peek(ctx)
		if err != nil {
			return g, false, err
		}
		if rec == nil {
			break
		}
		if recFlags(rec)&flagInvalidKey != 0 {
			c.i++
			if err := m.x.invalidRow(rec, c.side); err != nil {
				return g, false, err
			}
			continue
		}
		if !bytes.Equal(recKey(rec), key) {
			break
		}
		g.count++
		c.i++
	}
	return g, true, nil
}
