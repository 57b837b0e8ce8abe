// Package capture drops what a Debezium PostgreSQL capture leaves in the database
// once its connector is gone: the logical replication slot and the publication. An
// inactive slot keeps the server's WAL from being recycled until the disk fills, so
// the operator removes what it caused.
package capture

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse-dev/clearhouse/internal/redact"
	"github.com/clearhouse-dev/clearhouse/internal/source/sqlsource"
)

// Dropped says what Drop found and dropped.
type Dropped struct {
	// Slot and Publication are true when they existed and were dropped.
	Slot, Publication bool
}

// ActiveSlotError reports a slot still in use (by a walsender, typically the Kafka
// Connect task that is still stopping): it is not dropped, try again later.
type ActiveSlotError struct {
	Slot string
	PID  int32
}

func (e *ActiveSlotError) Error() string {
	return fmt.Sprintf("replication slot %s is still active (backend PID %d): Kafka Connect may still be stopping the connector", e.Slot, e.PID)
}

// Drop connects to the PostgreSQL database of cfg and drops the logical replication
// slot (only if it exists in this database and is not active: a slot in use is an
// *ActiveSlotError) and the publication (DROP PUBLICATION IF EXISTS). Errors name the
// server and never contain the password.
func Drop(ctx context.Context, cfg sqlsource.Config, slot, publication string) (Dropped, error) {
	var d Dropped
	conn, where, err := connect(ctx, cfg)
	if err != nil {
		return d, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	fail := func(err error, format string, args ...any) error {
		return redact.Error(fmt.Errorf("%s database %s: %s: %w", where, cfg.Database, fmt.Sprintf(format, args...), err), cfg.Password)
	}

	var active bool
	var pid *int32
	err = conn.QueryRow(ctx, `SELECT active, active_pid FROM pg_replication_slots
		WHERE slot_name = $1 AND database = current_database()`, slot).Scan(&active, &pid)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return d, fail(err, "read replication slot %s", slot)
	case active:
		e := &ActiveSlotError{Slot: slot}
		if pid != nil {
			e.PID = *pid
		}
		return d, e
	default:
		// Still racing a walsender that attaches now: the server refuses to drop an
		// active slot (object_in_use), which is returned and retried.
		if _, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot($1)`, slot); err != nil {
			return d, fail(err, "drop replication slot %s", slot)
		}
		d.Slot = true
	}

	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, publication).Scan(&d.Publication)
	if err != nil {
		return d, fail(err, "read publication %s", publication)
	}
	if _, err := conn.Exec(ctx, `DROP PUBLICATION IF EXISTS `+pgx.Identifier{publication}.Sanitize()); err != nil {
		d.Publication = false
		return d, fail(err, "drop publication %s", publication)
	}
	return d, nil
}

// Find reports whether the slot (in this database) and the publication exist.
func Find(ctx context.Context, cfg sqlsource.Config, slot, publication string) (hasSlot, hasPublication bool, err error) {
	conn, where, err := connect(ctx, cfg)
	if err != nil {
		return false, false, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	err = conn.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND database = current_database()),
		EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2)`, slot, publication).Scan(&hasSlot, &hasPublication)
	if err != nil {
		return false, false, redact.Error(fmt.Errorf("%s database %s: look for slot %s and publication %s: %w",
			where, cfg.Database, slot, publication, err), cfg.Password)
	}
	return hasSlot, hasPublication, nil
}

// HandSQL is what an administrator runs to drop the slot and publication by hand.
func HandSQL(slot, publication string) string {
	return fmt.Sprintf("SELECT pg_drop_replication_slot('%s'); DROP PUBLICATION IF EXISTS %s;",
		strings.ReplaceAll(slot, "'", "''"), pgx.Identifier{publication}.Sanitize())
}

// connect opens a plain connection with the settings sqlsource connects with, and
// returns where it connected for messages.
func connect(ctx context.Context, cfg sqlsource.Config) (*pgx.Conn, string, error) {
	if cfg.Driver != sqlsource.Postgres {
		return nil, "", fmt.Errorf("capture cleanup needs a PostgreSQL source, not %q", cfg.Driver)
	}
	cc, where, err := sqlsource.PostgresConnConfig(cfg)
	if err != nil {
		return nil, "", redact.Error(err, cfg.Password)
	}
	cc.RuntimeParams["application_name"] = "clearhouse-capture-cleanup"
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, "", redact.Error(fmt.Errorf("connect to %s database %s: %w", where, cfg.Database, err), cfg.Password)
	}
	return conn, where, nil
}
