package devenv

import (
	"bytes"
	"context"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/source"
)

// TestDemoDataEngine proves the demo's expected set with the engine itself, under the
// comparison the demo ReconciliationJob declares: what `clearhouse dev` prints must be
// exactly this.
func TestDemoDataEngine(t *testing.T) {
	ctx := context.Background()
	d, err := WriteDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src, err := source.Open(ctx, "file://"+d.LedgerPath, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	tgt, err := source.Open(ctx, "file://"+d.SettlementPath, source.Options{Delimiter: ';'})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tgt.Close() }()
	maskKey := diff.NewMaskKey()
	spec := diff.Spec{
		MaskKey: maskKey,
		Keys:    []diff.Column{{Name: "payment_id", Target: "end_to_end_id"}},
		Compare: []diff.Column{
			{Name: "amount", Target: "settled_amount", Type: diff.TypeDecimal, AbsTolerance: "0.01"},
			{Name: "currency", Target: "ccy", IgnoreCase: true},
			{Name: "value_date", Type: diff.TypeDate},
			{Name: "booked_at", Type: diff.TypeTimestamp, TimeTolerance: 2 * time.Second},
			{Name: "iban", Target: "debtor_iban", Sensitive: true},
		},
	}
	var got diff.Collect
	sum, err := diff.Run(ctx, spec, src, tgt, &got)
	if err != nil {
		t.Fatal(err)
	}
	diff.SortDiscrepancies(got.Discrepancies)
	if want := d.Expected(maskKey); !reflect.DeepEqual(got.Discrepancies, want) {
		t.Errorf("discrepancies:\n got %+v\nwant %+v", got.Discrepancies, want)
	}
	want := diff.Summary{
		Compared: d.Matched + int64(len(d.Expected(maskKey))), Matched: d.Matched,
		MissingInTarget: 1, MissingInSource: 1, Mismatched: 2, DuplicateKeys: 1,
		SourceRows: int64(d.LedgerRows), TargetRows: int64(d.SettlementRows), Strategy: sum.Strategy,
	}
	if sum != want {
		t.Errorf("summary:\n got %+v\nwant %+v", sum, want)
	}
	if d.LedgerRows != demoPayments || d.SettlementRows != demoPayments+1 {
		t.Errorf("rows: ledger %d, settlement %d", d.LedgerRows, d.SettlementRows)
	}
}

// TestDemoDataDeterministic: the README's table is the one every reader sees.
func TestDemoDataDeterministic(t *testing.T) {
	a, err := WriteDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := WriteDemo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]string{{a.LedgerPath, b.LedgerPath}, {a.SettlementPath, b.SettlementPath}} {
		x, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(p[1])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two generations", p[0])
		}
	}
}
