// Command spillwatch samples the directory a benchmark's hash run spills into, until it
// is signalled (SIGTERM, SIGINT): the largest total size of the files in it seen at
// once, and whether the engine's spill directory (clearhouse-diff-*) appeared. It
// writes "BYTES SEEN" (SEEN 0 or 1) to STATE whenever either changes, replacing the
// file whole, and once more before it exits.
//
//	spillwatch DIR STATE [INTERVAL]   (INTERVAL a Go duration, 100ms unless given)
//
// It is one process that sleeps between samples, each a few system calls. The shell
// loop it replaces started two processes a sample on the two cores the run it watched
// was using: ~37 ms of CPU a second, ~2% of a hash run's and only of hash's
// (docs/benchmarks.md).
package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "usage: spillwatch DIR STATE [INTERVAL]")
		os.Exit(2)
	}
	interval := 100 * time.Millisecond
	if len(os.Args) == 4 {
		d, err := time.ParseDuration(os.Args[3])
		if err != nil || d <= 0 {
			fmt.Fprintf(os.Stderr, "spillwatch: interval %q: want a positive duration such as 100ms\n", os.Args[3])
			os.Exit(2)
		}
		interval = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := watch(ctx, os.Args[1], os.Args[2], interval); err != nil {
		fmt.Fprintln(os.Stderr, "spillwatch:", err)
		os.Exit(1)
	}
}

// watch samples dir every interval until ctx ends, keeping state up to date.
func watch(ctx context.Context, dir, state string, interval time.Duration) error {
	var peak int64
	seen := false
	was := ""
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		bytes, engine := sample(dir)
		peak = max(peak, bytes)
		seen = seen || engine
		if now := fmt.Sprintf("%d %d", peak, b2i(seen)); now != was {
			if err := writeState(state, now); err != nil {
				return err
			}
			was = now
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// sample returns the total size of the regular files under dir and whether an entry
// named clearhouse-diff-* is among them. Files removed while it walks are skipped.
func sample(dir string) (total int64, engine bool) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // gone, or not there yet
		}
		if strings.HasPrefix(d.Name(), "clearhouse-diff-") {
			engine = true
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				total += info.Size()
			}
		}
		return nil
	})
	return total, engine
}

func writeState(path, s string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s+"\n"), 0o644); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
