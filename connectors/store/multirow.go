package store

import (
	"context"
	"database/sql"
	"math/bits"
	"strings"
)

// maxRowsLog is log2 of the most rows one statement of a multiRow carries (64 rows × 11
// parameters = 704, far below SQLite's limit of 32,766).
const maxRowsLog = 6

// multiRow is one INSERT statement prepared for 1, 2, 4 … 2^maxRowsLog rows of
// parameters: n rows take one statement per set bit of n (64 rows at most per
// statement) instead of one statement per row, which saves the per-statement cost of
// database/sql and the driver (binding, stepping, resetting). stmts[k] carries 2^k rows.
type multiRow struct {
	stmts [maxRowsLog + 1]*sql.Stmt
}

// prepareMultiRow prepares insert — an INSERT whose VALUES clause holds one row of
// parameters — followed by tail (an ON CONFLICT clause, or "") for every row count, on
// db (a statement cannot be prepared on the sink's connection while a transaction holds
// it). It returns the database's error.
func prepareMultiRow(ctx context.Context, db *sql.DB, insert, tail string) (*multiRow, error) {
	m := &multiRow{}
	for k := range m.stmts {
		st, err := db.PrepareContext(ctx, multiRowSQL(insert, 1<<k, tail))
		if err != nil {
			m.close()
			return nil, err
		}
		m.stmts[k] = st
	}
	return m, nil
}

// multiRowSQL returns insert with n rows of parameters, then tail. (Numbered parameters,
// to bind a value shared by every row once, make the driver's binding slower: it then
// looks every parameter up by name.)
func multiRowSQL(insert string, n int, tail string) string {
	_, row, _ := strings.Cut(insert, "VALUES ")
	return insert + strings.Repeat(", "+row, n-1) + tail
}

// runs calls exec for consecutive runs of n rows, first to last, within tx: rows [from,
// to) with the statement for to − from rows. It stops at and returns exec's first error.
func (m *multiRow) runs(ctx context.Context, tx *sql.Tx, n int, exec func(st *sql.Stmt, from, to int) error) error {
	for from := 0; from < n; {
		k := min(bits.Len(uint(n-from))-1, maxRowsLog)
		to := from + 1<<k
		if err := exec(tx.StmtContext(ctx, m.stmts[k]), from, to); err != nil {
			return err
		}
		from = to
	}
	return nil
}

// close releases the prepared statements.
func (m *multiRow) close() {
	for _, st := range m.stmts {
		if st != nil {
			st.Close()
		}
	}
}
