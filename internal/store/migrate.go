package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFiles embed.FS

// migrateLock is the PostgreSQL advisory lock migrations hold ("clearhou").
const migrateLock = 0x636c656172686f75

// migrate applies, in order and each in a transaction, the migrations of a dialect
// (migrations/<dialect>/NNNN_name.sql) that the database has not seen yet. On
// PostgreSQL it holds an advisory lock throughout: managers and workers that start
// together would otherwise each apply the same migration.
func migrate(ctx context.Context, pool *sql.DB, dialect string) error {
	db, err := pool.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() { _ = db.Close() }()
	if dialect == "postgres" {
		if _, err := db.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		defer func() {
			if _, err := db.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock)); err != nil {
				// A pooled session still holding the lock would block every other
				// process's migrations: drop the connection instead.
				_ = db.Raw(func(any) error { return driver.ErrBadConn })
			}
		}()
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrationFiles, path.Join("migrations", dialect, "*.sql"))
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, name := range names {
		version, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		var applied int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&applied); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if applied > 0 {
			continue
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// The version is claimed first, inside the transaction: on SQLite (no advisory
		// lock) that write waits for another process applying the same migration, and
		// finds it applied; checking schema_migrations above alone would apply it twice.
		res, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1) ON CONFLICT (version) DO NOTHING`, version)
		if err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("record migration %s: %w", name, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			_ = tx.Rollback()
			if err != nil {
				return fmt.Errorf("record migration %s: %w", name, err)
			}
			continue // applied by another process meanwhile
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("apply migration %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit migration %s: %w", name, err)
		}
	}
	return nil
}
