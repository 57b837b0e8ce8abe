package kubejob_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
	"github.com/clearhouse-dev/clearhouse/internal/kubejob"
	"github.com/clearhouse-dev/clearhouse/internal/runner"
)

// TestPlanEnvCarriesNoMaskKey: the plan a worker pod gets in its environment never
// holds a mask key, in clear, hex or base64 (JSON of a []byte), small or compressed;
// the pod derives the key from the results store instead.
func TestPlanEnvCarriesNoMaskKey(t *testing.T) {
	key := bytes.Repeat([]byte("K3y!"), 8)
	for _, compare := range []int{1, 2000} { // plain, then past plainPlan: gzipped
		p := runner.Plan{Job: "fin/ledger-vs-bank", Spec: diff.Spec{Keys: []diff.Column{{Name: "id", Sensitive: true}}, MaskKey: key}}
		for i := range compare {
			p.Spec.Compare = append(p.Spec.Compare, diff.Column{Name: "c" + strings.Repeat("x", i%50)})
		}
		s, err := kubejob.EncodePlan(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := kubejob.DecodePlan(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(back.Spec.MaskKey) != 0 {
			t.Errorf("decoded plan (%d columns) carries a mask key", compare)
		}
		for _, form := range []string{string(key), hex.EncodeToString(key), "SzN5IUszeSFLM3kh"} {
			if strings.Contains(s, form) {
				t.Errorf("encoded plan (%d columns) holds the mask key as %q", compare, form)
			}
		}
	}
}
