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
	ns, _, _ := strings.Cut(job, "/")
	return NamespaceMaskKey(key, ns), nil
}
