package capture_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/clearhouse-dev/clearhouse/internal/capture"
	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// exists reports whether the slot and the publication are in db.
func exists(t *testing.T, db *testdb.Database, slot, pub string) (bool, bool) {
	t.Helper()
	s, p, err := capture.Find(context.Background(), db.Config(), slot, pub)
	if err != nil {
		t.Fatal(err)
	}
	return s, p
}

// TestDrop: the slot and publication a Debezium connector created are dropped, and a
// second Drop finds nothing and succeeds.
func TestDrop(t *testing.T) {
	ctx := context.Background()
	db := testdb.NewPostgres(t)
	const slot, pub = "clearhouse_ns_ledger_0badc0de", "clearhouse_pub_ns_ledger_0badc0de"
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY, amount DECIMAL(10,2))",
		"SELECT pg_create_logical_replication_slot('"+slot+"', 'pgoutput')",
		"CREATE PUBLICATION "+pub+" FOR TABLE entries")
	if s, p := exists(t, db, slot, pub); !s || !p {
		t.Fatalf("before: slot %v publication %v, want both", s, p)
	}
	d, err := capture.Drop(ctx, db.Config(), slot, pub)
	if err != nil {
		t.Fatal(err)
	}
	if d != (capture.Dropped{Slot: true, Publication: true}) {
		t.Errorf("dropped %+v, want both", d)
	}
	if s, p := exists(t, db, slot, pub); s || p {
		t.Errorf("after: slot %v publication %v, want neither", s, p)
	}
	d, err = capture.Drop(ctx, db.Config(), slot, pub)
	if err != nil || d != (capture.Dropped{}) {
		t.Errorf("again: %+v, %v; want nothing dropped and no error", d, err)
	}
}

// TestDropWrongPassword: the error names the server and never holds the password
// (here also the user name, which the server echoes).
func TestDropWrongPassword(t *testing.T) {
	db := testdb.NewPostgres(t)
	cfg := db.Config()
	wrong := "Xy9-not-the-pa55word"
	cfg.User, cfg.Password = wrong, wrong
	_, err := capture.Drop(context.Background(), cfg, "s", "p")
	if err == nil {
		t.Fatal("no error with a wrong password")
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error holds the password: %v", err)
	}
	if !strings.Contains(err.Error(), cfg.Host) || !strings.Contains(err.Error(), redact.Placeholder) {
		t.Errorf("error %q does not name the server or redact the user", err)
	}
}

func TestHandSQL(t *testing.T) {
	got := capture.HandSQL("clearhouse_a_b_01", "clearhouse_pub_a_b_01")
	want := `SELECT pg_drop_replication_slot('clearhouse_a_b_01'); DROP PUBLICATION IF EXISTS "clearhouse_pub_a_b_01";`
	if got != want {
		t.Errorf("HandSQL = %s, want %s", got, want)
	}
}

// holdSlot streams from slot on a replication connection (as Debezium's walsender
// does), keeping it active until the returned function closes the connection.
func holdSlot(t *testing.T, db *testdb.Database, slot, pub string) func() {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgconn.ParseConfig(db.URI())
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fe := conn.Frontend()
	fe.Send(&pgproto3.Query{String: "START_REPLICATION SLOT " + slot + " LOGICAL 0/0 (proto_version '1', publication_names '" + pub + "')"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := fe.Receive()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := msg.(*pgproto3.CopyBothResponse); ok {
			break
		}
		if e, ok := msg.(*pgproto3.ErrorResponse); ok {
			t.Fatalf("START_REPLICATION: %s", e.Message)
		}
	}
	return func() { _ = conn.Close(ctx) }
}

// TestDropActiveSlot: a slot a walsender streams from is not dropped (an
// *ActiveSlotError naming it); once the stream ends it is.
func TestDropActiveSlot(t *testing.T) {
	ctx := context.Background()
	db := testdb.NewPostgres(t)
	const slot, pub = "clearhouse_ns_active_0badc0de", "clearhouse_pub_ns_active_0badc0de"
	db.Exec(t, "CREATE TABLE entries (id INT PRIMARY KEY)",
		"SELECT pg_create_logical_replication_slot('"+slot+"', 'pgoutput')",
		"CREATE PUBLICATION "+pub+" FOR TABLE entries")
	release := holdSlot(t, db, slot, pub)
	_, err := capture.Drop(ctx, db.Config(), slot, pub)
	var active *capture.ActiveSlotError
	if !errors.As(err, &active) || active.Slot != slot || active.PID == 0 {
		t.Fatalf("Drop of an active slot: %v, want an ActiveSlotError naming %s and its PID", err, slot)
	}
	if s, p := exists(t, db, slot, pub); !s || !p {
		t.Errorf("after the refused drop: slot %v publication %v, want both kept", s, p)
	}
	release()
	// The walsender notices the closed connection on its own schedule: poll.
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := capture.Drop(ctx, db.Config(), slot, pub)
		if err == nil {
			if d != (capture.Dropped{Slot: true, Publication: true}) {
				t.Errorf("dropped %+v, want both", d)
			}
			break
		}
		if !errors.As(err, &active) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
