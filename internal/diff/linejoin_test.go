package diff_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// TestLineJoinFileChanged: a row that must be read again and was rewritten (same
// length) after it was read fails the run, naming the file and the row.
func TestLineJoinFileChanged(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount\n")
	tg.WriteString("id,amount\n")
	for i := range 2000 {
		fmt.Fprintf(&s, "k%04d,%d\n", i, i)
		v := i
		if i == 1500 {
			v = i + 1
		}
		fmt.Fprintf(&tg, "k%04d,%d\n", i, v)
	}
	dir := t.TempDir()
	sp, tp := filepath.Join(dir, "s.csv"), filepath.Join(dir, "t.csv")
	if err := os.WriteFile(sp, []byte(s.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tp, []byte(tg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := source.Open(t.Context(), sp, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := source.Open(t.Context(), tp, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = src.Close(), tgt.Close() }()
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash,
		Compare: []diff.Column{{Name: "amount", Type: diff.TypeInteger}}}
	change := diff.BeforeLeftOver(func() {
		b := []byte(strings.Replace(tg.String(), "k1500,1501", "k1500,1599", 1))
		if err := os.WriteFile(tp, b, 0o600); err != nil {
			t.Error(err)
		}
	})
	var st diff.Stats
	_, err = diff.Run(t.Context(), spec, src, tgt, &diff.Collect{}, change, diff.WithStats(func(s diff.Stats) { st = s }))
	if !st.LineJoin {
		t.Fatal("no line join")
	}
	if err == nil || !strings.Contains(err.Error(), "target changed during the run (t.csv)") || !strings.Contains(err.Error(), "t.csv line 1502") {
		t.Fatalf("got %v", err)
	}
}

// TestLineJoinCanceledOrFailedLeftOver: a run canceled, or whose file is cut short,
// while the rows left over are to be read again fails with that, and leaves no spill
// file behind.
func TestLineJoinCanceledOrFailedLeftOver(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,memo\n")
	tg.WriteString("id,amount,memo\n")
	for i := range 20000 {
		fmt.Fprintf(&s, "k%05d,%d,m\n", i, i)
		fmt.Fprintf(&tg, "k%05d,%d,m\n", i, i+i%3)
	}
	for _, how := range []string{"cancel", "truncate"} {
		dir := t.TempDir()
		sp, tp := filepath.Join(dir, "s.csv"), filepath.Join(dir, "t.csv")
		if err := os.WriteFile(sp, []byte(s.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tp, []byte(tg.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		src, err := source.Open(t.Context(), sp, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tgt, err := source.Open(t.Context(), tp, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		tmp := t.TempDir()
		spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash, MemoryBudget: diff.MinMemoryBudget,
			TempDir: tmp, Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "memo"}}}
		ctx, cancel := context.WithCancel(t.Context())
		hook := diff.BeforeLeftOver(func() {
			if how == "cancel" {
				cancel()
			} else if err := os.Truncate(tp, 100); err != nil {
				t.Error(err)
			}
		})
		var st diff.Stats
		_, err = diff.Run(ctx, spec, src, tgt, &diff.Collect{}, hook, diff.WithStats(func(s diff.Stats) { st = s }))
		cancel()
		_, _ = src.Close(), tgt.Close()
		if !st.LineJoin {
			t.Fatalf("%s: no line join", how)
		}
		if err == nil || (how == "cancel" && !errors.Is(err, context.Canceled)) {
			t.Fatalf("%s: got %v", how, err)
		}
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("%s: spill files left: %v", how, left)
		}
	}
}

// TestLineJoinFileChangedRecordOverLines: a record over several lines, left over, that
// reads back as a ragged record (its file was rewritten) fails the run too.
func TestLineJoinFileChangedRecordOverLines(t *testing.T) {
	var s, tg strings.Builder
	s.WriteString("id,amount,memo\n")
	tg.WriteString("id,amount,memo\n")
	for i := range 2000 {
		fmt.Fprintf(&s, "k%04d,%d,\"two\nlines\"\n", i, i)
		v := i
		if i == 1500 {
			v = i + 1
		}
		fmt.Fprintf(&tg, "k%04d,%d,\"two\nlines\"\n", i, v)
	}
	dir := t.TempDir()
	sp, tp := filepath.Join(dir, "s.csv"), filepath.Join(dir, "t.csv")
	if err := os.WriteFile(sp, []byte(s.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tp, []byte(tg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := source.Open(t.Context(), sp, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := source.Open(t.Context(), tp, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = src.Close(), tgt.Close() }()
	spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash,
		Compare: []diff.Column{{Name: "amount", Type: diff.TypeInteger}, {Name: "memo"}}}
	change := diff.BeforeLeftOver(func() {
		b := []byte(strings.Replace(tg.String(), "k1500,1501,", "k1500;1501,", 1))
		if err := os.WriteFile(tp, b, 0o600); err != nil {
			t.Error(err)
		}
	})
	var st diff.Stats
	_, err = diff.Run(t.Context(), spec, src, tgt, &diff.Collect{}, change, diff.WithStats(func(s diff.Stats) { st = s }))
	if !st.LineJoin {
		t.Fatal("no line join")
	}
	if err == nil || !strings.Contains(err.Error(), "target changed during the run (t.csv)") {
		t.Fatalf("got %v", err)
	}
}
