package pipeline_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
	"github.com/clearhouse-dev/clearhouse/internal/testenv"
)

// TestAPIServerAcceptsRenderedObjects applies every golden rendering to the real
// kube-apiserver with the unmodified Strimzi CRDs installed: first as a server-side
// dry run, then for real, and reads each object back. Strimzi's schemas prune unknown
// fields instead of rejecting them, so the spec read back must equal the spec sent:
// nothing was dropped.
func TestAPIServerAcceptsRenderedObjects(t *testing.T) {
	env, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := env.Client

	namespaces := map[string]bool{}
	applied := 0
	for _, gc := range goldenCases {
		ds := readDataSource(t, gc.file)
		objs, err := pipeline.Render(ds, pipeline.Options{KafkaCluster: gc.cluster})
		if err != nil {
			t.Fatal(err)
		}
		if !namespaces[ds.Namespace] {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ds.Namespace}}
			if err := c.Create(ctx, ns); err != nil {
				t.Fatal(err)
			}
			namespaces[ds.Namespace] = true
		}
		for _, o := range objs {
			name := goldenName(gc.file, gc.cluster) + ": " + o.GetKind() + " " + o.GetName()
			for _, dry := range []bool{true, false} {
				opts := []client.ApplyOption{client.FieldOwner("clearhouse"), client.ForceOwnership}
				if dry {
					opts = append(opts, client.DryRunAll)
				}
				if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...); err != nil {
					t.Fatalf("%s (dry run %v): %v", name, dry, err)
				}
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(o.GroupVersionKind())
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), got); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !reflect.DeepEqual(got.Object["spec"], o.Object["spec"]) {
				t.Errorf("%s: the API server stored spec\n%v\nwant\n%v", name, got.Object["spec"], o.Object["spec"])
			}
			if !reflect.DeepEqual(got.GetLabels(), o.GetLabels()) {
				t.Errorf("%s: labels %v, want %v", name, got.GetLabels(), o.GetLabels())
			}
			applied++
		}
	}
	// connector + topics of every case with a cluster, the connector alone otherwise
	if want := 11; applied != want {
		t.Errorf("applied %d objects, want %d", applied, want)
	}

	// The schemas are live: a topic with 0 partitions is refused.
	objs, err := pipeline.Render(readDataSource(t, "mysql"), pipeline.Options{KafkaCluster: "events"})
	if err != nil {
		t.Fatal(err)
	}
	bad := objs[1].DeepCopy()
	if err := unstructured.SetNestedField(bad.Object, int64(0), "spec", "partitions"); err != nil {
		t.Fatal(err)
	}
	err = c.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad), client.FieldOwner("clearhouse"), client.ForceOwnership, client.DryRunAll)
	if err == nil || !strings.Contains(err.Error(), "spec.partitions") {
		t.Errorf("a KafkaTopic with 0 partitions: error %v, want one naming spec.partitions", err)
	}
}
