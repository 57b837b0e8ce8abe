package controllers_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestDataSourceDroppedComparedColumnBlocksJobs: a column the job compares (declared in
// the job, not in the DataSource) is dropped. The DataSource reports the drift and stays
// Ready (the column is neither a key nor declared); the job used to stay Ready too and
// fail every run on "not a column": it reports Ready=False naming the DataSource and
// the column, and is Ready again when the column is back.
func TestDataSourceDroppedComparedColumnBlocksJobs(t *testing.T) {
	db, src, job, jobReady := readyLedgerJob(t, "review-dscmp", testdb.Postgres)

	db.Exec(t, "ALTER TABLE ledger DROP COLUMN amount")
	waitLong(t, src, func() error {
		return wantCondition(src, "SchemaDrift", metav1.ConditionTrue, chv1.ReasonDrifted, "removed columns: amount")
	})
	eventually(t, "the job names the DataSource whose compared column is gone", func() error {
		return cond(getJob(t, job), chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonSourceError,
			`spec.source: DataSource "ledger" has no column "amount" the job compares (columns: id)`)
	})

	db.Exec(t, "ALTER TABLE ledger ADD COLUMN amount DECIMAL(12,2)")
	waitLong(t, src, func() error {
		return wantCondition(src, "SchemaDrift", metav1.ConditionFalse, chv1.ReasonNoDrift, "")
	})
	eventually(t, "the job is Ready again", jobReady)
}

// secretReads is a reader that counts the Secrets read through it: a DataSource
// reconciler reads its credentials through it only to probe.
type secretReads struct {
	client.Reader
	n atomic.Int32
}

func (c *secretReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*corev1.Secret); ok {
		c.n.Add(1)
	}
	return c.Reader.Get(ctx, key, obj, opts...)
}

// TestRecreatedDataSourceIsProbedAtOnce: a DataSource deleted and created again under the
// same name (kubectl replace --force, a GitOps tool recreating it) before the reconciler
// saw the deletion is a new object at generation 1, like the old one. The reconciler
// used to take the old one's last probe for its own and leave the new one unprobed
// (NotProbed) until the old probe's interval ran out: an hour here.
func TestRecreatedDataSourceIsProbedAtOnce(t *testing.T) {
	ctx := context.Background()
	ns := "ds-recreated"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	ds := sqlSource(ns, "entries", db, "entries", time.Hour, "id")
	fresh := ds.DeepCopy()
	createDataSource(t, ds)

	reads := &secretReads{Reader: env.Client}
	r := &controllers.DataSourceReconciler{Client: env.Client, APIReader: reads, Clock: clock.RealClock{},
		Recorder: mgr.GetEventRecorder("clearhouse-datasource-test")}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ds)}
	// Reconcile until a reconcile does not probe: the probe is remembered (a status
	// patch that conflicts with the manager's own reconciler forgets it).
	for i := 0; ; i++ {
		n := reads.n.Load()
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
		if reads.n.Load() == n {
			break
		}
		if i == 20 {
			t.Fatal("every reconcile probes")
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := env.Client.Delete(ctx, ds); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the DataSource is gone", func() error {
		err := env.Client.Get(ctx, req.NamespacedName, &chv1.DataSource{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
	createDataSource(t, fresh)
	n := reads.n.Load()
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if reads.n.Load() == n {
		t.Errorf("the recreated DataSource (uid %s) was not probed: the reconciler took the deleted one's probe for its own", fresh.UID)
	}
}
