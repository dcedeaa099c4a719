package store

import (
	"context"
	"database/sql"
	"math"

	"github.com/edgepipe/edgepipe/pipeline"
)

// restoreChunk is how many rebuilt records restore passes to Summarizer.Add at a time.
const restoreChunk = 512

// restore rebuilds the Summarizer's open windows from the database, so that a restart
// neither loses nor doubles a summary. For every device with stored readings or dead
// letters, it finds the end of the device's last summarised window (the largest end_ms
// in summaries; none → the beginning of time) and feeds the readings and dead letters
// with ts ≥ that end to Summarizer.Add in the order they arrived (received / at, then
// id; a dead letter before a reading that arrived at the same instant), which is the
// order the summarizer saw them in before the restart: a reading or dead letter that was
// late then is late again, so a restart never creates a summary that the first run did
// not (a dead letter stamped 1970 arriving after readings of 2024 does not open a 1970
// window on replay). Dead letters of category "late" (readings the
// summarizer refused because their window had closed) are not replayed: they were never
// readings, so a restart does not count them in a window it reopens. Summaries of
// windows that close on the way (readings committed before a crash whose summary was
// not) are written as usual.
func (s *Sink) restore(ctx context.Context) error {
	sz := s.env.Summarizer
	if sz == nil {
		return nil
	}
	devices, err := s.restoreDevices(ctx)
	if err != nil {
		return err
	}
	var sums []pipeline.Summary
	for _, dev := range devices {
		from := int64(math.MinInt64)
		var end sql.NullInt64
		if err := s.db.QueryRowContext(ctx, `SELECT max(end_ms) FROM summaries WHERE device = ?`, dev).Scan(&end); err != nil {
			return err
		}
		if end.Valid {
			from = end.Int64 * 1e6
		}
		dead, err := s.deadSince(ctx, dev, from)
		if err != nil {
			return err
		}
		got, err := s.replay(ctx, dev, from, dead)
		if err != nil {
			return err
		}
		sums = append(sums, got...)
	}
	return s.summarize(ctx, sums)
}

// restoreDevices lists the devices with stored readings or dead letters.
func (s *Sink) restoreDevices(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT device FROM devices
		UNION SELECT device FROM dead_letters WHERE device IS NOT NULL ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// deadSince returns the device's dead letters with ts ≥ from, except late ones, as
// rebuilt records, in arrival (at, id) order.
func (s *Sink) deadSince(ctx context.Context, dev string, from int64) ([]*pipeline.Record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ts, topic, reason, at FROM dead_letters
		WHERE device = ? AND ts >= ? AND substr(reason, 1, 5) <> 'late:' ORDER BY at, id`, dev, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*pipeline.Record
	for rows.Next() {
		var ts, at int64
		r := &pipeline.Record{Device: dev, Score: math.NaN()}
		if err := rows.Scan(&ts, &r.Topic, &r.DeadLetter, &at); err != nil {
			return nil, err
		}
		r.Time, r.Received = fromNano(ts), fromNano(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// replay feeds the device's stored readings with ts ≥ from, merged with its dead letters
// dead (in arrival order), to the Summarizer in chunks, in arrival order, and returns
// the summaries closed.
func (s *Sink) replay(ctx context.Context, dev string, from int64, dead []*pipeline.Record) ([]pipeline.Summary, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT ts, vals, score, anomaly, label, model, topic, received
		FROM inferences WHERE device = ?1 AND ts >= ?2 AND ts <= (SELECT latest_ts FROM devices WHERE device = ?1)
		ORDER BY received, id`, dev, from)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var sums []pipeline.Summary
	chunk := make([]*pipeline.Record, 0, restoreChunk)
	flush := func() {
		if len(chunk) > 0 {
			sums = append(sums, s.env.Summarizer.Add(chunk)...)
			chunk = make([]*pipeline.Record, 0, restoreChunk)
		}
	}
	push := func(r *pipeline.Record) {
		chunk = append(chunk, r)
		if len(chunk) == restoreChunk {
			flush()
		}
	}
	for rows.Next() {
		var ts, received int64
		var vals string
		var score sql.NullFloat64
		var label sql.NullString
		r := &pipeline.Record{Device: dev}
		if err := rows.Scan(&ts, &vals, &score, &r.Anomaly, &label, &r.Model, &r.Topic, &received); err != nil {
			return nil, err
		}
		if r.Values, err = decodeValues(vals); err != nil {
			return nil, err
		}
		r.Time, r.Received, r.Label = fromNano(ts), fromNano(received), label.String
		r.Score = math.NaN()
		if score.Valid {
			r.Score = score.Float64
		}
		for len(dead) > 0 && !dead[0].Received.After(r.Received) {
			push(dead[0])
			dead = dead[1:]
		}
		push(r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, d := range dead {
		push(d)
	}
	flush()
	return sums, nil
}
