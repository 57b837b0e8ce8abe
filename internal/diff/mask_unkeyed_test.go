package diff

import (
	"errors"
	"strings"
	"testing"
)

// TestColumnErrorsMaskUnderASecretKey: Column.Normalize and Column.Equal compile a
// column outside a run (no run key). A sensitive value they cannot parse is masked in
// the ValueError, and that mask must not be one anybody can compute: HMAC under an
// empty key is as reversible as the unsalted SHA-256 masks were (hash every candidate
// value and compare).
func TestColumnErrorsMaskUnderASecretKey(t *testing.T) {
	const secret = "12a45" // not an integer: the error shows the value, masked
	col := Column{Name: "amount", Type: TypeInteger, Sensitive: true}
	public := []string{Mask(nil, secret), Mask([]byte{}, secret)}
	_, nErr := col.Normalize(secret)
	_, eErr := col.Equal(secret, "1")
	for _, err := range []error{nErr, eErr} {
		var ve *ValueError
		if !errors.As(err, &ve) {
			t.Fatalf("want a ValueError, got %v", err)
		}
		if strings.Contains(err.Error(), secret) || !strings.HasPrefix(ve.Value, "***") {
			t.Fatalf("value not masked: %v", err)
		}
		for _, p := range public {
			if ve.Value == p {
				t.Errorf("%v: the mask is HMAC under an empty key, computable by anyone (reversible by hashing candidates)", err)
			}
		}
	}
}

// TestOutOfOrderKeysMaskedUnderTheRunKey: merge's out-of-order error names sensitive
// keys by their masks under the run's key (Spec.MaskKey), never in clear nor under a
// key anybody can compute, and those masks are the ones the run's outcomes use.
func TestOutOfOrderKeysMaskedUnderTheRunKey(t *testing.T) {
	cols := []string{"id", "v"}
	key := []byte("a review mask key, at least 32 bytes long")
	sr := &orderedReader{newSliceReader("src", cols, [][]Cell{row("ACCT-1", "1"), row("ACCT-3", "1"), row("ACCT-2", "1")}), []string{"id"}}
	tr := &orderedReader{newSliceReader("tgt", cols, [][]Cell{row("ACCT-1", "1")}), []string{"id"}}
	spec := Spec{Keys: []Column{{Name: "id", Sensitive: true}}, Compare: []Column{{Name: "v"}}, Strategy: StrategyMerge, MaskKey: key}
	_, _, err := runCollect(t, spec, sr, tr)
	if err == nil {
		t.Fatal("no error for out-of-order input")
	}
	if strings.Contains(err.Error(), "ACCT-") {
		t.Fatalf("clear key in %v", err)
	}
	for _, v := range []string{"ACCT-2", "ACCT-3"} {
		if !strings.Contains(err.Error(), Mask(key, v)) {
			t.Errorf("%v does not name %s by its mask under the run key %s", err, v, Mask(key, v))
		}
		if strings.Contains(err.Error(), Mask(nil, v)) {
			t.Errorf("%v masks under an empty key", err)
		}
	}
}
