package diff

import "crypto/rand"

// MaskKeySize is the size of the keys NewMaskKey draws, and the least Spec.MaskKey
// accepts: a mask must not be reversible by hashing candidate values, which a short
// or missing key would allow (an amount or an account number has few possible values).
const MaskKeySize = 32

// Mask renders a sensitive value as SEMANTICS.md says: "***" and the first 16 hex
// digits of the HMAC-SHA256 of text under key, where text should be the value's
// canonical text (for a value that does not parse, its text as read). The same key
// gives the same mask for the same value, run after run. NULL is not masked: a caller
// keeps it as NULL rather than calling Mask.
func Mask(key []byte, text string) string { return maskText(key, text) }

// NewMaskKey draws a random mask key of MaskKeySize bytes.
func NewMaskKey() []byte {
	k := make([]byte, MaskKeySize)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (it crashes the program instead)
	return k
}
