package runner

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/store"
)

// NamespaceMaskKey derives the mask key of a namespace's runs from a store's key
// (store.Store.MaskKey): masks stay the same from run to run, and one namespace's
// masks cannot be matched with another's.
func NamespaceMaskKey(storeKey []byte, namespace string) []byte {
	m := hmac.New(sha256.New, storeKey)
	m.Write([]byte("clearhouse mask key of namespace\x00" + namespace))
	return m.Sum(nil)
}

// maskKeyOf returns the mask key of job's runs (job is namespace/name) recorded in st.
func maskKeyOf(ctx context.Context, st store.Store, job string) ([]byte, error) {
	key, err := st.MaskKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	return JobMaskKey(key, job), nil
}

// JobMaskKey is the mask key of a job's runs recorded in a store whose key is
// storeKey: NamespaceMaskKey of the job's namespace (job is namespace/name; a job
// name without a namespace, as the CLI's, is in namespace ""). The operator and
// `clearhouse diff --store --job` agree on it, so a job's cases match whoever ran it.
func JobMaskKey(storeKey []byte, job string) []byte {
	ns, _, ok := strings.Cut(job, "/")
	if !ok {
		ns = ""
	}
	return NamespaceMaskKey(storeKey, ns)
}
