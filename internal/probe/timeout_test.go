package probe_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	chv1 "github.com/clearhouse-dev/clearhouse/api/v1alpha1"
	"github.com/clearhouse-dev/clearhouse/internal/probe"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

// silentServer accepts connections and never answers (a hung server, a black-holing
// proxy); the connections are closed when the test ends.
func silentServer(t *testing.T) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// TestSilentServers: a server that accepts the connection and never answers ends the
// probe at the DataSource's timeout with Reason Timeout (not a hung reconcile).
func TestSilentServers(t *testing.T) {
	for _, kind := range []testdb.Kind{testdb.Postgres, testdb.MariaDB} {
		t.Run(string(kind), func(t *testing.T) {
			db := &testdb.Database{Server: &testdb.Server{Kind: kind, Host: "127.0.0.1", Port: int(silentServer(t))}, Name: "ledger"}
			ds := sqlDataSource(db, "entries", "", "id")
			timeout := &metav1.Duration{Duration: time.Second}
			if ds.Spec.PostgreSQL != nil {
				ds.Spec.PostgreSQL.ConnectTimeout = timeout
			} else {
				ds.Spec.MySQL.ConnectTimeout = timeout
			}
			failure(t, ds, creds("u", "Silent-Pa55"), probe.StageConnect, probe.ReasonTimeout, "127.0.0.1", "Silent-Pa55")
		})
	}
	t.Run("http", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(srv.Close)
		t.Cleanup(func() { close(release) })
		ds := fileDataSource(srv.URL+"/settlement.csv", chv1.FileCSV)
		failure(t, ds, creds("", ""), probe.StageConnect, probe.ReasonTimeout, "settlement.csv", "")
	})
}
