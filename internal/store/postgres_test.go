package store_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/clearhouse-dev/clearhouse/internal/store"
	"github.com/clearhouse-dev/clearhouse/internal/store/storetest"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// TestPostgres runs the conformance suite on the test binary's PostgreSQL server, a
// fresh database per subtest.
func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db := testdb.NewPostgres(t)
		s, err := store.OpenPostgres(context.Background(), db.URI())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() }) // before the database is dropped
		return s
	})
}

// TestPostgresErrorsHideThePassword: a wrong password fails with a message that names
// the server, never the password.
func TestPostgresErrorsHideThePassword(t *testing.T) {
	db := testdb.NewPostgres(t)
	u, err := url.Parse(db.URI())
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "Sup3rS3cretPw")
	_, err = store.OpenPostgres(context.Background(), u.String())
	if err == nil {
		t.Fatal("opened the store with a wrong password")
	}
	t.Logf("error: %v", err)
	if strings.Contains(err.Error(), "Sup3rS3cretPw") {
		t.Errorf("error shows the password: %v", err)
	}
}
