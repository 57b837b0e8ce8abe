package v1alpha1_test

import (
	"context"
	"testing"
)

// TestDuplicateColumnMappingsAreRejected: a job that maps two keys onto the same
// target column, or compares a key column, is a mistake the API server can see; it must
// reject it naming the field, not accept it and leave the job Ready=False for someone to
// notice later. (Two compared columns onto one target column are left to the
// controller's Ready=False: a CEL rule over 512 compared columns exceeds the API
// server's cost budget.)
func TestDuplicateColumnMappingsAreRejected(t *testing.T) {
	createNamespace(t, "rjcheck-dup")
	checkRejected(t, "rjcheck-dup", []invalidCase{
		{"two keys onto one target column", baseJob,
			[]edit{{"spec.keys", []any{map[string]any{"source": "id", "target": "ref"}, map[string]any{"source": "id2", "target": "ref"}}}},
			[]string{"spec.keys", "each key must map to a different target column"}},
		{"a key onto another key's default target", baseJob,
			[]edit{{"spec.keys", []any{map[string]any{"source": "ref"}, map[string]any{"source": "id2", "target": "ref"}}}},
			[]string{"spec.keys", "each key must map to a different target column"}},
		{"a key column compared", baseJob,
			[]edit{{"spec.compare[0].source", "id"}},
			[]string{"spec.compare", "a key column cannot also be a compared column"}},
		{"a compared column onto the key's target column", baseJob,
			[]edit{{"spec.compare[0].target", "id"}},
			[]string{"spec.compare", "a key column cannot also be a compared column"}},
	})
	// A mapping that only looks similar is valid: a key and a compared column with
	// distinct targets, a compared column renamed onto a free name.
	obj := parse(t, baseJob)
	obj.SetNamespace("rjcheck-dup")
	obj.SetName("valid")
	for _, e := range []edit{{"spec.keys", []any{map[string]any{"source": "id", "target": "ref"}, map[string]any{"source": "day"}}},
		{"spec.compare[1].target", "booked"}} {
		if err := apply(obj.Object, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("a valid mapping was rejected: %v", err)
	}
}
