package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/controllers"
	"github.com/clearhouse-dev/clearhouse/internal/capture"
	"github.com/clearhouse-dev/clearhouse/internal/pipeline"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// debeziumLeftovers creates in db what Debezium's PostgreSQL connector of ds creates
// (its logical slot on pgoutput and its publication of the captured table), and drops
// whatever is left when the test ends (a database with a slot cannot be dropped).
func debeziumLeftovers(t *testing.T, db *testdb.Database, ds *chv1.DataSource) (slot, pub string) {
	t.Helper()
	slot, pub = pipeline.SlotName(ds), pipeline.PublicationName(ds)
	db.Exec(t, "SELECT pg_create_logical_replication_slot('"+slot+"', 'pgoutput')",
		"CREATE PUBLICATION "+pub+" FOR TABLE entries")
	t.Cleanup(func() {
		db.Exec(t, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '"+slot+"'")
	})
	return slot, pub
}

// leftovers says whether the slot and the publication are in db.
func leftovers(t *testing.T, db *testdb.Database, slot, pub string) (hasSlot, hasPub bool) {
	t.Helper()
	hasSlot, hasPub, err := capture.Find(context.Background(), db.Config(), slot, pub)
	if err != nil {
		t.Fatal(err)
	}
	return hasSlot, hasPub
}

// ledgerCapture is a PostgreSQL DataSource name in ns reading entries of db and
// capturing it through the KafkaConnect "connect".
func ledgerCapture(ns, name string, db *testdb.Database) *chv1.DataSource {
	ds := sqlSource(ns, name, db, "entries", time.Hour, "id")
	ds.Spec.Capture = &chv1.CaptureSpec{KafkaConnect: "connect"}
	return ds
}

// waitCaptureApplied waits until ds carries the cleanup finalizer and its
// KafkaConnector exists.
func waitCaptureApplied(t *testing.T, ds *chv1.DataSource) {
	t.Helper()
	waitLong(t, ds, func() error {
		if !slices.Contains(ds.Finalizers, controllers.CaptureCleanupFinalizer) {
			return fmt.Errorf("finalizers %v", ds.Finalizers)
		}
		if n := len(pipelineObjects(t, ds)); n != 1 {
			return fmt.Errorf("%d pipeline objects, want the KafkaConnector", n)
		}
		return nil
	})
}

// deleteCapture deletes ds and waits until it and its pipeline objects are gone.
func deleteCapture(t *testing.T, ds *chv1.DataSource) {
	t.Helper()
	if err := env.Client.Delete(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ds)
	if n := len(pipelineObjects(t, ds)); n != 0 {
		t.Errorf("%d pipeline objects left", n)
	}
}

// waitGone waits until ds no longer exists.
func waitGone(t *testing.T, ds *chv1.DataSource) {
	t.Helper()
	eventually(t, "DataSource "+ds.Name+" deleted", func() error {
		err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ds), &chv1.DataSource{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}

// waitEventPrefix waits for an event regarding the DataSource that starts with want.
func waitEventPrefix(t *testing.T, ns, name, want string) string {
	t.Helper()
	var got string
	eventually(t, "event "+want, func() error {
		evs := eventsOf(t, ns, name)
		for _, e := range evs {
			if strings.HasPrefix(e, want) {
				got = e
				return nil
			}
		}
		return fmt.Errorf("events %q", evs)
	})
	return got
}

// TestDataSourceCaptureCleanup: deleting a PostgreSQL DataSource with capture, or
// removing its capture, deletes the KafkaConnector and drops the replication slot and
// publication Debezium left, with an event saying so; a MySQL capture gets no
// finalizer (it leaves no slot).
func TestDataSourceCaptureCleanup(t *testing.T) {
	ctx := context.Background()
	ns := "cdc-cleanup"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	where := fmt.Sprintf("in database %s on 127.0.0.1:%d", db.Name, db.Server.Port)

	t.Run("delete", func(t *testing.T) {
		ds := ledgerCapture(ns, "ledger", db)
		slot, pub := debeziumLeftovers(t, db, ds)
		createDataSource(t, ds)
		waitCaptureApplied(t, ds)
		deleteCapture(t, ds)
		if s, p := leftovers(t, db, slot, pub); s || p {
			t.Errorf("slot left: %v, publication left: %v", s, p)
		}
		waitEvent(t, ns, ds.Name, fmt.Sprintf("Normal %s: dropped replication slot %s, dropped publication %s %s",
			controllers.ReasonCaptureCleanedUp, slot, pub, where))
	})

	t.Run("capture removed", func(t *testing.T) {
		ds := ledgerCapture(ns, "journal", db)
		slot, pub := debeziumLeftovers(t, db, ds)
		createDataSource(t, ds)
		waitCaptureApplied(t, ds)
		patch := client.MergeFrom(ds.DeepCopy())
		ds.Spec.Capture = nil
		if err := env.Client.Patch(ctx, ds, patch); err != nil {
			t.Fatal(err)
		}
		waitLong(t, ds, func() error {
			if len(ds.Finalizers) != 0 {
				return fmt.Errorf("finalizers %v", ds.Finalizers)
			}
			if n := len(pipelineObjects(t, ds)); n != 0 {
				return fmt.Errorf("%d pipeline objects left", n)
			}
			return nil
		})
		if s, p := leftovers(t, db, slot, pub); s || p {
			t.Errorf("slot left: %v, publication left: %v", s, p)
		}
		waitEvent(t, ns, ds.Name, fmt.Sprintf("Normal %s: dropped replication slot %s, dropped publication %s %s",
			controllers.ReasonCaptureCleanedUp, slot, pub, where))
		// Deleting it now needs no cleanup.
		if err := env.Client.Delete(ctx, ds); err != nil {
			t.Fatal(err)
		}
		waitGone(t, ds)
	})

	t.Run("mysql", func(t *testing.T) {
		my := testdb.NewMariaDB(t)
		my.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
		mns := "cdc-cleanup-mysql"
		namespace(t, mns)
		dbSecret(t, mns, my.Server.User, my.Server.Password)
		ds := sqlSource(mns, "ledger", my, "entries", time.Hour, "id")
		ds.Spec.Capture = &chv1.CaptureSpec{KafkaConnect: "connect"}
		createDataSource(t, ds)
		waitLong(t, ds, func() error {
			if n := len(pipelineObjects(t, ds)); n != 1 {
				return fmt.Errorf("%d pipeline objects, want the KafkaConnector", n)
			}
			return wantCondition(ds, "Ready", "True", chv1.ReasonReconciled, "")
		})
		if len(ds.Finalizers) != 0 {
			t.Errorf("MySQL capture has finalizers %v, want none", ds.Finalizers)
		}
	})
}

// TestDataSourceCaptureCleanupGivesUp: when the database refuses the DataSource's
// credentials, the cleanup gives up after its bounded attempts (3 in the suite):
// the DataSource is deleted, a Warning names the slot and publication to drop by hand,
// and the password is in no event, status or log line.
func TestDataSourceCaptureCleanupGivesUp(t *testing.T) {
	ns := "cdc-cleanup-denied"
	namespace(t, ns)
	db := testdb.NewPostgres(t)
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
	// The wrong password is also the user name, which the server echoes.
	wrong := "Qv4-wr0ng-cleanup-pa55"
	dbSecret(t, ns, wrong, wrong)
	ds := ledgerCapture(ns, "ledger", db)
	slot, pub := debeziumLeftovers(t, db, ds)
	createDataSource(t, ds)
	waitCaptureApplied(t, ds)
	deleteCapture(t, ds)
	want := fmt.Sprintf("Warning %s: gave up after 3 attempts: drop the replication slot %s and publication %s in database %s on 127.0.0.1:%d by hand (%s); an inactive slot keeps WAL from being recycled. Last error: connect to 127.0.0.1:%d database %s: ",
		controllers.ReasonCaptureCleanupGaveUp, slot, pub, db.Name, db.Server.Port, capture.HandSQL(slot, pub), db.Server.Port, db.Name)
	got := waitEventPrefix(t, ns, ds.Name, want)
	if !strings.Contains(got, "password authentication failed") {
		t.Errorf("the Warning does not say why: %q", got)
	}
	waitEventPrefix(t, ns, ds.Name, "Warning "+controllers.ReasonCaptureCleanupFailed+": cannot drop replication slot "+slot)
	// What was not dropped is still there, for the administrator.
	if s, p := leftovers(t, db, slot, pub); !s || !p {
		t.Errorf("slot there: %v, publication there: %v; the cleanup could not have dropped them", s, p)
	}
	noSecretAnywhere(t, ds, wrong)
	noSecretAnywhere(t, ds, db.Server.Password)
}
