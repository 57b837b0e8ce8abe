package diff_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// ljPair is a pair of CSV files with a header and n rows of key k<i>: row(i, side)
// gives the rest of the row (source 0, target 1).
func ljPair(t *testing.T, header string, n int, row func(i, side int) string) (sp, tp, tgtText string) {
	t.Helper()
	var s, tg strings.Builder
	s.WriteString(header + "\n")
	tg.WriteString(header + "\n")
	for i := range n {
		fmt.Fprintf(&s, "k%05d,%s\n", i, row(i, 0))
		fmt.Fprintf(&tg, "k%05d,%s\n", i, row(i, 1))
	}
	sp, tp = advWrite(t, s.String(), tg.String())
	return sp, tp, tg.String()
}

// ljRunLeft runs a line join whose files get changed by before, just before the rows
// left over are read again, and returns its error.
func ljRunLeft(t *testing.T, ctx context.Context, spec diff.Spec, sp, tp string, before func()) error {
	t.Helper()
	src, tgt := advOpen(t, sp, tp)
	var st diff.Stats
	_, err := diff.Run(ctx, spec, src, tgt, &diff.Collect{}, diff.BeforeLeftOver(before), diff.WithStats(func(s diff.Stats) { st = s }))
	if !st.LineJoin {
		t.Fatal("no line join")
	}
	return err
}

// TestLineJoinFileChanged: a row left over that was rewritten (same length) after it
// was read fails the run, naming the file and the row; so does a record over several
// lines that reads back as a ragged record.
func TestLineJoinFileChanged(t *testing.T) {
	for _, tc := range []struct {
		header, memo, old, new, want string
	}{
		{"id,amount", "", "k01500,1501", "k01500,1599", "t.csv line 1502"},
		{"id,amount,memo", ",\"two\nlines\"", "k01500,1501,", "k01500;1501,", "t.csv line 3002"},
	} {
		sp, tp, tgt := ljPair(t, tc.header, 2000, func(i, side int) string {
			if i == 1500 && side == 1 {
				i++
			}
			return fmt.Sprint(i) + tc.memo
		})
		spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash,
			Compare: []diff.Column{{Name: "amount", Type: diff.TypeInteger}}}
		err := ljRunLeft(t, t.Context(), spec, sp, tp, func() {
			if err := os.WriteFile(tp, []byte(strings.Replace(tgt, tc.old, tc.new, 1)), 0o600); err != nil {
				t.Error(err)
			}
		})
		if err == nil || !strings.Contains(err.Error(), "target changed during the run (t.csv)") || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: got %v", tc.header, err)
		}
	}
}

// TestLineJoinCanceledOrFailedLeftOver: a run canceled, or whose file is cut short,
// while the rows left over are to be read again fails with that, and leaves no spill
// file behind.
func TestLineJoinCanceledOrFailedLeftOver(t *testing.T) {
	for _, how := range []string{"cancel", "truncate"} {
		sp, tp, _ := ljPair(t, "id,amount,memo", 20000, func(i, side int) string { return fmt.Sprintf("%d,m", i+side*(i%3)) })
		tmp := t.TempDir()
		spec := diff.Spec{Keys: []diff.Column{{Name: "id"}}, Strategy: diff.StrategyHash, MemoryBudget: diff.MinMemoryBudget,
			TempDir: tmp, Compare: []diff.Column{{Name: "amount", Type: diff.TypeDecimal}, {Name: "memo"}}}
		ctx, cancel := context.WithCancel(t.Context())
		err := ljRunLeft(t, ctx, spec, sp, tp, func() {
			if how == "cancel" {
				cancel()
			} else if err := os.Truncate(tp, 100); err != nil {
				t.Error(err)
			}
		})
		cancel()
		if err == nil || (how == "cancel" && !errors.Is(err, context.Canceled)) {
			t.Fatalf("%s: got %v", how, err)
		}
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("%s: spill files left: %v", how, left)
		}
	}
}
