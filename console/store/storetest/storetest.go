// Package storetest gives tests a fresh database for the console's store:
// a SQLite file of their own, or a PostgreSQL schema of their own in the
// database XUNJIAN_TEST_POSTGRES names (scripts/postgres.sh starts a
// throwaway cluster and prints the variable; scripts/test.sh sets it).
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	// The PostgreSQL driver "pgx" for database/sql.
	_ "github.com/jackc/pgx/v5/stdlib"
)

// PostgresEnv names the environment variable with the DSN of a PostgreSQL
// database for the tests; without it the PostgreSQL variants are skipped.
const PostgresEnv = "XUNJIAN_TEST_POSTGRES"

// Dialects are the dialects a test of the store runs on.
var Dialects = []string{"sqlite", "postgres"}

// DSN returns the DSN of an empty database of dialect ("sqlite" or
// "postgres"), removed after the test. The PostgreSQL one skips the test
// when PostgresEnv is not set.
func DSN(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return "sqlite://" + filepath.Join(t.TempDir(), "console.db")
	case "postgres":
		base := os.Getenv(PostgresEnv)
		if base == "" {
			t.Skipf("%s is not set: scripts/postgres.sh start && eval \"export $(scripts/postgres.sh env)\"", PostgresEnv)
		}
		return postgresSchema(t, base)
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

// postgresSchema creates a schema of its own for the test in the database
// of base and returns a DSN whose search_path is that schema.
func postgresSchema(t testing.TB, base string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(context.Background(), `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL", PostgresEnv)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
