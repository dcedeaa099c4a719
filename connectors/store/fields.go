package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
)

// recordFields stores the pipeline's field names (the meaning of each position of
// inferences.vals) in pipeline_fields the first time, and afterwards refuses a config
// whose fields differ, since the stored values would be misread.
func recordFields(ctx context.Context, db *sql.DB, fields []string) error {
	have, err := readFields(ctx, db)
	if err != nil {
		return err
	}
	if len(have) > 0 {
		if !slices.Equal(have, fields) {
			return fmt.Errorf("the database holds readings with fields %q, the config has %q: use a new database file", have, fields)
		}
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i, f := range fields {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pipeline_fields (position, name) VALUES (?, ?)`, i, f); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func readFields(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pipeline_fields ORDER BY position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}

// Fields returns the pipeline's field names in value order: inferences.vals[i] and
// Inference.Values[i] are Fields()[i].
func (d *DB) Fields(ctx context.Context) ([]string, error) { return readFields(ctx, d.db) }
