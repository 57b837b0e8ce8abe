package controllers_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestDataSourceDroppedComparedColumnBlocksJobs: a column the job compares (declared in
// the job, not in the DataSource) is dropped. The DataSource reports the drift and stays
// Ready (the column is neither a key nor declared); the job used to stay Ready too and
// fail every run on "not a column": it reports Ready=False naming the DataSource and
// the column, and is Ready again when the column is back.
func TestDataSourceDroppedComparedColumnBlocksJobs(t *testing.T) {
	kind := testdb.Postgres
	ns := "review-dscmp"
	namespace(t, ns)
	db := newDatabase(t, kind)
	db.Exec(t,
		"CREATE TABLE ledger (id BIGINT NOT NULL, amount DECIMAL(12,2))",
		"CREATE TABLE bank (id BIGINT NOT NULL, amount DECIMAL(12,2))")
	dbSecret(t, ns, db.Server.User, db.Server.Password)
	src := sqlSource(ns, "ledger", db, "ledger", 10*time.Second, "id")
	dst := sqlSource(ns, "bank", db, "bank", 10*time.Second, "id")
	createDataSource(t, src)
	createDataSource(t, dst)
	job := &chv1.ReconciliationJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ledger-vs-bank"},
		Spec: chv1.ReconciliationJobSpec{
			Source:  chv1.JobSide{DataSource: "ledger"},
			Target:  chv1.JobSide{DataSource: "bank"},
			Keys:    []chv1.KeyMapping{{Source: "id", Type: chv1.ColumnInteger}},
			Compare: []chv1.ColumnComparison{{Source: "amount", Type: chv1.ColumnDecimal}},
		}}
	create(t, job)
	deleteAtEnd(t, job)
	jobReady := func() error {
		return cond(getJob(t, job), chv1.ConditionReady, metav1.ConditionTrue, chv1.ReasonReconciled,
			"the job is valid and its DataSources are ready")
	}
	waitLong(t, src, func() error {
		return wantCondition(src, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 2 columns")
	})
	eventually(t, "the job is Ready with both sources reachable", jobReady)

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
