package controllers_test

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// laggingClient is the API server's client whose reads of one DataSource can be held at
// an older version, as an informer cache that has not yet seen the latest write.
type laggingClient struct {
	client.Client
	mu  sync.Mutex
	old *chv1.DataSource
}

func (c *laggingClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.mu.Lock()
	old := c.old
	c.mu.Unlock()
	if ds, ok := obj.(*chv1.DataSource); ok && old != nil && key == client.ObjectKeyFromObject(old) {
		old.DeepCopyInto(ds)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}

func (c *laggingClient) lag(ds *chv1.DataSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.old = ds
}

// TestDataSourceStaleRead: a reconcile that reads the DataSource from a cache still
// holding a version before its probed status (the KafkaConnector it applied woke it up
// first) must not write that older status back: the probe's conditions stay.
func TestDataSourceStaleRead(t *testing.T) {
	ctx := context.Background()
	ns := "ds-stale"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	ds := sqlSource(ns, "entries", db, "entries", time.Hour, "id")
	createDataSource(t, ds)
	created := ds.DeepCopy() // no status yet

	c := &laggingClient{Client: env.Client}
	r := &controllers.DataSourceReconciler{Client: c, APIReader: env.Client, Clock: clock.RealClock{},
		Recorder: mgr.GetEventRecorder("clearhouse-datasource-test")}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ds)}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	probed := func() error {
		return wantCondition(ds, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 2 columns")
	}
	waitLong(t, ds, probed)

	// The next reconcile reads the DataSource as it was created.
	c.lag(created)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	c.lag(nil)
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(ctx, req.NamespacedName, ds); err != nil {
		t.Fatal(err)
	}
	if err := probed(); err != nil {
		t.Error(err)
	}
}
