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
	user := u.User.Username()
	u.User = url.UserPassword(user, "Sup3rS3cretPw")
	asQuery := *u
	asQuery.User = url.User(user)
	asQuery.RawQuery = "password=Sup3rS3cretPw&connect_timeout=5"
	// A password with a '/' is not a valid URL password unless escaped: written as is,
	// it must not show either.
	withSlash := strings.Replace(u.String(), "Sup3rS3cretPw", "Sup3r/S3cretPw", 1)
	for _, uri := range []string{u.String(), asQuery.String(), withSlash} {
		_, err = store.Open(context.Background(), uri)
		if err == nil {
			t.Fatalf("opened the store with a wrong password (%s)", uri)
		}
		t.Logf("error: %v", err)
		if strings.Contains(err.Error(), "S3cretPw") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
