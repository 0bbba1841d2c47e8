package store

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// The migrations, one directory per dialect, each file NNNN_name.sql. The
// two directories hold the same versions: a version is one schema whatever
// the dialect.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one embedded schema change.
type migration struct {
	version int64
	name    string
	sql     string
}

// migrations returns the dialect's migrations in version order, checking
// that the versions run 1, 2, 3… without a gap or a duplicate.
func migrations(d dialect) ([]migration, error) {
	dir := "migrations/" + d.String()
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("store: migration %s/%s: want NNNN_name.sql", dir, name)
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("store: migrations: %w", err)
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i, m := range out {
		if m.version != int64(i+1) {
			return nil, fmt.Errorf("store: migrations of %s: %s where version %d was expected", d, m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this code migrates to: a database at
// a higher version is refused by Open.
func SchemaVersion() int64 {
	migs, err := migrations(sqlite)
	if err != nil {
		panic(err) // the embedded files are checked by the tests
	}
	return int64(len(migs))
}

// migrationLockClass is the first key of the PostgreSQL advisory lock that
// serialises migrations; the second is a hash of the schema, so consoles
// on different schemas of one database do not wait for each other.
const migrationLockClass = 0x78756e6a // "xunj"

// migrate applies the migrations the database lacks, one transaction
// each. Each transaction first takes the database's migration lock
// (PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN
// IMMEDIATE, the write lock), then reads the version, so two processes
// opening one database at once apply each migration once: the second
// waits, then finds it applied.
func (s *Store) migrate(ctx context.Context) error {
	migs, err := migrations(s.dialect)
	if err != nil {
		return err
	}
	for {
		applied, err := s.migrateOne(ctx, migs)
		if err != nil {
			return fmt.Errorf("store: migrate (%s): %w", s.dialect, err)
		}
		if !applied {
			return nil
		}
	}
}

// migrateOne applies the first migration of migs the database lacks, if
// any, and reports whether it did.
func (s *Store) migrateOne(ctx context.Context, migs []migration) (applied bool, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrationLockClass); err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT NOT NULL PRIMARY KEY,
			name       TEXT   NOT NULL,
			applied_ms BIGINT NOT NULL
		)`); err != nil {
			return fmt.Errorf("schema_migrations: %w", err)
		}
		var current int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
		latest := int64(len(migs))
		if current > latest {
			return fmt.Errorf("%w: the database is at version %d, this program knows up to %d", ErrSchemaTooNew, current, latest)
		}
		if current == latest {
			return nil
		}
		m := migs[current] // versions are 1…len(migs)
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)`,
			m.version, m.name, ms(s.now())); err != nil {
			return fmt.Errorf("%s: record: %w", m.name, err)
		}
		applied = true
		return nil
	})
	return applied, err
}
