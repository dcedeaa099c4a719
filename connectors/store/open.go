package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// dsn returns a SQLite "file:" URI for path with the driver's query parameters.
func dsn(path string, q url.Values) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/…
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String(), nil
}

// openWriter opens (creating when missing) the database at path for the sink: one
// connection, WAL journal, BEGIN IMMEDIATE transactions, and the schema migrated to the
// latest version. A new file is created with mode 0600 before SQLite opens it, and
// SQLite gives the -wal and -shm files the database file's mode. A new database gets
// auto_vacuum = INCREMENTAL (it can only be set before the first table), so that
// retention can give pruned pages back to the file system; an existing one keeps its
// mode (see convertAutoVacuum).
func openWriter(ctx context.Context, path, synchronous string, busy time.Duration, log *slog.Logger) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, err
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, err
	}
	q := url.Values{}
	q.Set("mode", "rwc")
	q.Set("_txlock", "immediate")
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	q.Set("_auto_vacuum", "INCREMENTAL")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", synchronous)
	name, err := dsn(path, q)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", name)
	if err != nil {
		return nil, err
	}
	// One connection: the sink and the outbox share it, so writers never contend for
	// SQLite's lock inside this process.
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db, log); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}

// openReader opens an existing database read-only and checks that its schema is one
// this package knows.
func openReader(ctx context.Context, path string, busy time.Duration) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", strconv.FormatInt(busy.Milliseconds(), 10))
	name, err := dsn(path, q)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", name)
	if err != nil {
		return nil, err
	}
	v, err := schemaVersion(ctx, db)
	if err == nil && v == 0 {
		err = errors.New("not an edgepipe database (no schema_migrations table)")
	}
	if err == nil && v > len(migrations) {
		err = fmt.Errorf("schema version %d is newer than this edgepipe (knows up to %d)", v, len(migrations))
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return db, nil
}
