package store

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Output formats of Query.
const (
	FormatCSV  = "csv"
	FormatJSON = "json"
)

// Query writes the inferences that opts select to w, in event-time order, as CSV (a
// header row, then one row per reading) or JSON lines (one object per reading). The
// columns, in order, are device, ts (RFC 3339 with ns, UTC), one column per name in
// fields (the config's fields, matched to Values by position), score, anomaly (true or
// false), label and model. A missing value or an unscored score is an empty CSV cell or
// JSON null; values beyond len(fields) are not written. It returns the number of
// readings written. Errors: an unknown format, a database error, or a write error.
func Query(ctx context.Context, db *DB, w io.Writer, format string, fields []string, opts QueryOptions) (int, error) {
	var rw rowWriter
	switch format {
	case FormatCSV:
		c := &csvRows{cw: csv.NewWriter(w), fields: len(fields)}
		header := append(append([]string{"device", "ts"}, fields...), "score", "anomaly", "label", "model")
		if err := c.cw.Write(header); err != nil {
			return 0, err
		}
		rw = c
	case FormatJSON:
		j := &jsonRows{w: bufio.NewWriter(w)}
		for _, f := range fields {
			k, _ := json.Marshal(f) // a string always marshals
			j.keys = append(j.keys, k)
		}
		rw = j
	default:
		return 0, fmt.Errorf("store: unknown output format %q (want %s or %s)", format, FormatCSV, FormatJSON)
	}
	n := 0
	err := db.Inferences(ctx, opts, func(inf Inference) error {
		n++
		return rw.row(inf)
	})
	if ferr := rw.flush(); err == nil {
		err = ferr
	}
	return n, err
}

// rowWriter writes one output format.
type rowWriter interface {
	row(Inference) error
	flush() error
}

// csvRows writes CSV rows (RFC 4180).
type csvRows struct {
	cw     *csv.Writer
	fields int
	rec    []string
}

func (c *csvRows) row(inf Inference) error {
	c.rec = append(c.rec[:0], inf.Device, inf.Time.Format(time.RFC3339Nano))
	for i := range c.fields {
		c.rec = append(c.rec, csvNumber(valueAt(inf.Values, i)))
	}
	c.rec = append(c.rec, csvNumber(inf.Score), strconv.FormatBool(inf.Anomaly), inf.Label, inf.Model)
	return c.cw.Write(c.rec)
}

func (c *csvRows) flush() error {
	c.cw.Flush()
	return c.cw.Error()
}

// jsonRows writes JSON lines: one object per line, keys in column order.
type jsonRows struct {
	w    *bufio.Writer
	keys [][]byte // the field names, JSON-encoded
	b    []byte
}

func (j *jsonRows) row(inf Inference) error {
	b := append(j.b[:0], `{"device":`...)
	b = appendJSONString(b, inf.Device)
	b = append(b, `,"ts":`...)
	b = appendJSONString(b, inf.Time.Format(time.RFC3339Nano))
	for i, k := range j.keys {
		b = append(append(append(b, ','), k...), ':')
		b = appendNumber(b, valueAt(inf.Values, i))
	}
	b = append(b, `,"score":`...)
	b = appendNumber(b, inf.Score)
	b = append(b, `,"anomaly":`...)
	b = strconv.AppendBool(b, inf.Anomaly)
	b = append(b, `,"label":`...)
	b = appendJSONString(b, inf.Label)
	b = append(b, `,"model":`...)
	b = appendJSONString(b, inf.Model)
	b = append(b, "}\n"...)
	j.b = b
	_, err := j.w.Write(b)
	return err
}

func (j *jsonRows) flush() error { return j.w.Flush() }

// valueAt returns vals[i], or NaN (missing) when vals is shorter.
func valueAt(vals []float64, i int) float64 {
	if i < len(vals) {
		return vals[i]
	}
	return math.NaN()
}

// csvNumber formats v for a CSV cell: shortest round-trip decimal, "" when not finite.
func csvNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
