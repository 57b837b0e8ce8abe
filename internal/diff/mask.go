package diff

// Mask renders a sensitive value as SEMANTICS.md says: "***" and the first 8 hex
// digits of the SHA-256 of text, which should be the value's canonical text (for a
// value that does not parse, its text as read). NULL is not masked: a caller keeps it
// as NULL rather than calling Mask.
func Mask(text string) string { return maskText(text) }
