package v1alpha1_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TestDuplicateColumnMappingsAreRejected: a job that maps two keys onto the same
// target column, or compares a key column, is a mistake the API server can see; it must
// reject it naming the field, not accept it and leave the job Ready=False for someone to
// notice later. (Two compared columns onto one target column are left to the
// controller's Ready=False: a CEL rule over 512 compared columns exceeds the API
// server's cost budget.)
func TestDuplicateColumnMappingsAreRejected(t *testing.T) {
	createNamespace(t, "rjcheck-dup")
	cases := []struct {
		name  string
		edits []edit
		want  []string
	}{
		{"two keys onto one target column",
			[]edit{{"spec.keys", []any{map[string]any{"source": "id", "target": "ref"}, map[string]any{"source": "id2", "target": "ref"}}}},
			[]string{"spec.keys", "each key must map to a different target column"}},
		{"a key onto another key's default target",
			[]edit{{"spec.keys", []any{map[string]any{"source": "ref"}, map[string]any{"source": "id2", "target": "ref"}}}},
			[]string{"spec.keys", "each key must map to a different target column"}},
		{"a key column compared",
			[]edit{{"spec.compare[0].source", "id"}},
			[]string{"spec.compare", "a key column cannot also be a compared column"}},
		{"a compared column onto the key's target column",
			[]edit{{"spec.compare[0].target", "id"}},
			[]string{"spec.compare", "a key column cannot also be a compared column"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := parse(t, baseJob)
			obj.SetNamespace("rjcheck-dup")
			obj.SetName(fmt.Sprintf("case-%d", i))
			for _, e := range tc.edits {
				if err := apply(obj.Object, e); err != nil {
					t.Fatal(err)
				}
			}
			err := env.Client.Create(context.Background(), obj)
			if err == nil {
				t.Fatalf("the API server accepted it; want a rejection mentioning %q", tc.want)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("rejected, but not as invalid: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
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
