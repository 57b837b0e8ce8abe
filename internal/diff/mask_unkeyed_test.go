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
