package store

import (
	"context"
	"database/sql"
	"time"
)

// refreshGauges sets edgepipe_outbox_depth (entries waiting) and the creation time of the
// oldest entry, from which edgepipe_outbox_oldest_age_seconds is computed, from the outbox
// table in one query. The store calls it whenever the outbox changes (at start, after
// summaries are written, after entries are removed); on a query error the gauges keep
// their values.
func (o *outbox) refreshGauges(ctx context.Context) {
	var n int
	var oldest sql.NullInt64
	if err := o.db.QueryRowContext(ctx, `SELECT count(*), min(created) FROM outbox`).Scan(&n, &oldest); err != nil {
		return
	}
	o.metrics.OutboxDepth.Set(float64(n))
	if !oldest.Valid {
		o.metrics.SetOutboxOldest(time.Time{})
		return
	}
	o.metrics.SetOutboxOldest(fromNano(oldest.Int64))
}
