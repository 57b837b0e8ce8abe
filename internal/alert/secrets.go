package alert

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FromCluster reads Secret keys in namespace through c (the manager's client or API
// reader). A missing Secret or key is an error naming both, never a value.
func FromCluster(c client.Reader, namespace string) SecretReader {
	return func(ctx context.Context, name, key string) (string, error) {
		var s corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
			if apierrors.IsNotFound(err) {
				return "", fmt.Errorf("secret %s/%s not found", namespace, name)
			}
			return "", fmt.Errorf("read secret %s/%s: %w", namespace, name, err)
		}
		v, ok := s.Data[key]
		if !ok {
			return "", fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
		}
		return string(v), nil
	}
}
