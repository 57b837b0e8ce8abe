package controllers_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// TestDataSourceSQLPrivateCA: a PostgreSQL or MySQL DataSource with tlsMode verify-full
// against a server whose certificate a private CA signed is Ready when its caSecretRef
// holds that CA, and Unreachable on the certificate without it (the system's CAs).
func TestDataSourceSQLPrivateCA(t *testing.T) {
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		t.Run(string(kind), func(t *testing.T) {
			ns := "sql-ca-" + string(kind)
			namespace(t, ns)
			db := newDatabase(t, kind)
			db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))")
			dbSecret(t, ns, db.Server.User, db.Server.Password)
			create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-ca"},
				Data: map[string][]byte{"ca.crt": db.Server.CAPEM}})
			verified := sqlSource(ns, "verified", db, "entries", time.Hour, "id")
			noCA := sqlSource(ns, "no-ca", db, "entries", time.Hour, "id")
			for _, ds := range []*chv1.DataSource{verified, noCA} {
				sq := ds.Spec.PostgreSQL
				if sq == nil {
					sq = ds.Spec.MySQL
				}
				sq.TLSMode = "verify-full"
				if ds == verified {
					sq.CASecretRef = &chv1.SecretKeyRef{Name: "db-ca", Key: "ca.crt"}
				}
				createDataSource(t, ds)
			}
			waitLong(t, verified, func() error {
				return wantCondition(verified, "Ready", metav1.ConditionTrue, chv1.ReasonReconciled, "reachable; 2 columns")
			})
			waitLong(t, noCA, func() error {
				return wantCondition(noCA, "Ready", metav1.ConditionFalse, "Unreachable", "certificate")
			})
		})
	}
}
