package controllers_test

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestDataSourceDroppedKeyBlocksJobs: against real PostgreSQL and MariaDB, a key column
// dropped with ALTER TABLE makes the DataSource Ready=False KeyColumnMissing (found by
// the periodic re-probe) and the ReconciliationJob reading it Ready=False SourceNotReady
// naming that DataSource and the column; adding the column back makes both Ready again.
func TestDataSourceDroppedKeyBlocksJobs(t *testing.T) {
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		t.Run(string(kind), func(t *testing.T) {
			db, src, job, jobReady := readyLedgerJob(t, "dskey-"+string(kind), kind)

			// The key column goes: the source is not Ready, and neither is the job.
			db.Exec(t, "ALTER TABLE ledger DROP COLUMN id")
			keyMissing := `key column "id" is missing from the source (columns: amount)`
			waitLong(t, src, func() error {
				return exactCondition(src, "Ready", metav1.ConditionFalse, chv1.ReasonKeyColumnMissing, keyMissing)
			})
			eventually(t, "the job names the DataSource whose key column is gone", func() error {
				return cond(getJob(t, job), chv1.ConditionReady, metav1.ConditionFalse, chv1.ReasonSourceError,
					fmt.Sprintf(`spec.source: DataSource "ledger" is not ready (KeyColumnMissing: %s)`, keyMissing))
			})

			// Fixed: the column is back (same type, so no drift either).
			db.Exec(t, "ALTER TABLE ledger ADD COLUMN id BIGINT NOT NULL DEFAULT 0")
			waitLong(t, src, func() error {
				if err := exactCondition(src, "SchemaDrift", metav1.ConditionFalse, chv1.ReasonNoDrift,
					fmt.Sprintf("the schema matches the declared columns and the one accepted at generation %d", src.Generation)); err != nil {
					return err
				}
				return wantCondition(src, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 2 columns")
			})
			eventually(t, "the job is Ready again", jobReady)
		})
	}
}

// readyLedgerJob makes, in namespace ns on a fresh database of kind, tables ledger and
// bank (id, amount), their DataSources (re-probed every 10 s) and a job comparing
// amount by id, and waits until the source DataSource and the job are Ready. jobReady
// checks the job is Ready.
func readyLedgerJob(t *testing.T, ns string, kind testdb.Kind) (db *testdb.Database, src *chv1.DataSource, job *chv1.ReconciliationJob, jobReady func() error) {
	t.Helper()
	namespace(t, ns)
	db = newDatabase(t, kind)
	db.Exec(t,
		"CREATE TABLE ledger (id BIGINT NOT NULL, amount DECIMAL(12,2))",
		"CREATE TABLE bank (id BIGINT NOT NULL, amount DECIMAL(12,2))")
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	src = sqlSource(ns, "ledger", db, "ledger", 10*time.Second, "id")
	dst := sqlSource(ns, "bank", db, "bank", 10*time.Second, "id")
	createDataSource(t, src)
	createDataSource(t, dst)
	job = &chv1.ReconciliationJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ledger-vs-bank"},
		Spec: chv1.ReconciliationJobSpec{
			Source:  chv1.JobSide{DataSource: "ledger"},
			Target:  chv1.JobSide{DataSource: "bank"},
			Keys:    []chv1.KeyMapping{{Source: "id", Type: chv1.ColumnInteger}},
			Compare: []chv1.ColumnComparison{{Source: "amount", Type: chv1.ColumnDecimal}},
		}}
	create(t, job)
	deleteAtEnd(t, job)
	jobReady = func() error {
		return cond(getJob(t, job), chv1.ConditionReady, metav1.ConditionTrue, chv1.ReasonReconciled,
			"the job is valid and its DataSources are ready")
	}
	waitLong(t, src, func() error {
		return wantCondition(src, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 2 columns")
	})
	eventually(t, "the job is Ready with both sources reachable", jobReady)
	return db, src, job, jobReady
}
