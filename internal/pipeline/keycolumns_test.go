package pipeline

import "testing"

func TestMessageKeyColumns(t *testing.T) {
	for _, c := range []struct {
		schema, table string
		keys          []string
		want          string
	}{
		{"public", "entries", []string{"id"}, `public\.entries:id`},
		{"ledger", "Entries_2026", []string{"region", "payment.id"}, `ledger\.Entries_2026:region,payment\.id`},
		{"public", "entries", nil, ""},
		{"public", "entries", []string{"a,b"}, ""}, // a separator in a name: not expressible
		{"pub;lic", "entries", []string{"id"}, ""},
	} {
		if got := messageKeyColumns(c.schema, c.table, c.keys); got != c.want {
			t.Errorf("%s.%s %v: %q, want %q", c.schema, c.table, c.keys, got, c.want)
		}
	}
}
