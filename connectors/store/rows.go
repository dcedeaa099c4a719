package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/edgepipe/edgepipe/pipeline"
)

// errNotNew is a multi-row insert that stored fewer readings than it was given: one of
// them was already stored, which Sink.latestTs had ruled out (another process wrote to
// the database?). The transaction is rolled back and retried on the per-reading path.
var errNotNew = errors.New("a reading known to be new was already stored; retrying reading by reading")

// rowInserter inserts runs of readings known to be new (see Sink.commitTx) into
// inferences with multi-row INSERT statements (multiRow). It is used by the sink's
// goroutine only.
type rowInserter struct {
	stmts *multiRow
	args  []any
	vals  []byte
	ends  []int
}

// newRowInserter prepares the statements on db, the sink's connection.
func newRowInserter(ctx context.Context, db *sql.DB) (*rowInserter, error) {
	m, err := prepareMultiRow(ctx, db, insertInference, "")
	if err != nil {
		return nil, err
	}
	return &rowInserter{stmts: m}, nil
}

// close releases the prepared statements.
func (ri *rowInserter) close() { ri.stmts.close() }

// insert stores recs (live readings with a device and an event time, none of them
// stored yet) in order within tx, committed at now (ns). It returns errNotNew when a
// statement stored fewer rows than it was given, or the database's error.
func (ri *rowInserter) insert(ctx context.Context, tx *sql.Tx, recs []*pipeline.Record, now int64) error {
	return ri.stmts.runs(ctx, tx, len(recs), func(st *sql.Stmt, from, to int) error {
		return ri.exec(ctx, st, recs[from:to], now)
	})
}

// exec runs st, a statement of len(recs) rows, for recs.
func (ri *rowInserter) exec(ctx context.Context, st *sql.Stmt, recs []*pipeline.Record, now int64) error {
	// Every vals text is a slice of one string, so that the run costs one allocation
	// for them instead of one per reading.
	ri.vals, ri.ends = ri.vals[:0], ri.ends[:0]
	for _, r := range recs {
		ri.vals = appendValues(ri.vals, r.Values)
		ri.ends = append(ri.ends, len(ri.vals))
	}
	all := string(ri.vals)
	args := ri.args[:0]
	from := 0
	// Each argument is boxed in an interface (an allocation for most); the commit time
	// and, while it does not change, the model are boxed once per statement.
	committed, model, modelArg := any(now), "", any(nil)
	for i, r := range recs {
		if modelArg == nil || r.Model != model {
			model, modelArg = r.Model, r.Model
		}
		args = append(args, r.Device, r.Time.UnixNano(), valuesHash(r.Values), all[from:ri.ends[i]],
			nullScore(r.Score), r.Anomaly, nullString(r.Label), modelArg, r.Topic, unixNano(r.Received), committed)
		from = ri.ends[i]
	}
	ri.args = args
	defer clear(ri.args) // keep no record alive until the next run
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return fmt.Errorf("inference: %w", err)
	}
	added, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if added != int64(len(recs)) {
		return fmt.Errorf("store: %d of %d rows stored: %w", added, len(recs), errNotNew)
	}
	return nil
}

// flush inserts the run of new readings commitTx has gathered (Sink.pending) within tx,
// committed at now (ns), and empties it. After errNotNew it forgets latestTs and sets
// byReading, so that the retried transaction stores every reading one by one (the
// devices table, where latestTs comes from, missed the reading found stored).
func (s *Sink) flush(ctx context.Context, tx *sql.Tx, now int64) error {
	if len(s.pending) == 0 {
		return nil
	}
	err := s.rows.insert(ctx, tx, s.pending, now)
	clear(s.pending)
	s.pending = s.pending[:0]
	if errors.Is(err, errNotNew) {
		clear(s.latestTs)
		s.byReading = true
	}
	return err
}
