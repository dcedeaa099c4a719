package store

import (
	"fmt"
	"math"
	"time"

	"github.com/dustin/go-humanize"
)

// Outbox full policies accepted by the `outbox_full` field: what the store does with a
// new summary when the outbox already holds Retention.OutboxMaxRows entries.
const (
	// OutboxRefuse keeps the outbox's oldest entries and queues no new one: the new
	// summary is stored in `summaries` marked as not queued (queued = 0), and is queued,
	// oldest first, as soon as the forwarder frees room. Nothing is given up unless the
	// summaries limits prune it before it was queued.
	OutboxRefuse = "refuse"
	// OutboxDropOldest queues the new summary and deletes the oldest outbox entries
	// beyond the limit: those summaries are never sent (their row in `summaries`
	// stays).
	OutboxDropOldest = "drop_oldest"
)

// Retention defaults of the store's config fields. Ages default to no limit: deleting
// data by age is a data-protection policy the operator chooses. The size limit defaults
// to on, because on a gateway the database shares a few GB of flash with the system,
// and a full disk stops every commit (nothing is acked) and can take the system down.
const (
	DefaultMaxSize            = "1GiB"
	DefaultDeadLettersMaxRows = 100_000
	DefaultSummariesMaxRows   = 100_000
	DefaultOutboxMaxRows      = 100_000
	DefaultPruneInterval      = time.Minute
	// MinMaxSize is the smallest size limit accepted (bytes): room for the schema, a
	// write-ahead log and some readings.
	MinMaxSize = 1 << 20
)

// Retention bounds what the store keeps. The zero value keeps everything (no limit) and
// refuses nothing; the config's defaults are the constants above.
type Retention struct {
	// ReadingsMaxAge prunes readings (inferences) stored longer ago than this (by the
	// row's `committed` time); 0 = no age limit.
	ReadingsMaxAge time.Duration
	// MaxSize bounds the database in bytes: the main file plus its write-ahead log
	// (-wal); 0 = no limit, else at least MinMaxSize. The oldest readings and dead
	// letters are pruned to stay under it; see README.md.
	MaxSize int64
	// DeadLettersMaxAge and DeadLettersMaxRows bound dead_letters by arrival time (`at`)
	// and row count; 0 = no limit.
	DeadLettersMaxAge  time.Duration
	DeadLettersMaxRows int
	// SummariesMaxAge and SummariesMaxRows bound summaries by `created` time and row
	// count; 0 = no limit. Each device's latest summary is always kept: it is where a
	// restart resumes summarising.
	SummariesMaxAge  time.Duration
	SummariesMaxRows int
	// OutboxMaxRows bounds the outbox (0 = no limit); OutboxFull says what happens to a
	// summary beyond it: OutboxRefuse ("" means the same) or OutboxDropOldest.
	OutboxMaxRows int
	OutboxFull    string
	// Interval is how often the age and row limits are applied (0 = DefaultPruneInterval).
	// The size limit is also applied whenever a commit brings the database near it.
	Interval time.Duration
}

// ParseSize parses a byte size: a whole number of bytes ("1048576") or a number with an
// IEC or SI unit ("512MiB" = 512·2^20, "1.5GiB", "2 GB" = 2·10^9), as
// github.com/dustin/go-humanize's ParseBytes reads it. It returns an error for a
// negative, malformed or too large size.
func ParseSize(s string) (int64, error) {
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 1048576, 512MiB, 1GiB): %w", s, err)
	}
	if n > math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}

// limited reports whether any limit is set, i.e. whether the pruner has work to do.
func (r Retention) limited() bool {
	return r.ReadingsMaxAge > 0 || r.MaxSize > 0 || r.DeadLettersMaxAge > 0 || r.DeadLettersMaxRows > 0 ||
		r.SummariesMaxAge > 0 || r.SummariesMaxRows > 0
}

// interval returns Interval, or DefaultPruneInterval when it is 0.
func (r Retention) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultPruneInterval
}

func (r Retention) validate() error {
	switch {
	case r.MaxSize < 0 || (r.MaxSize > 0 && r.MaxSize < MinMaxSize):
		return fmt.Errorf("store: max_size must be 0 (no limit) or at least %s, got %d bytes", humanize.IBytes(MinMaxSize), r.MaxSize)
	case r.ReadingsMaxAge < 0 || r.DeadLettersMaxAge < 0 || r.SummariesMaxAge < 0 || r.Interval < 0:
		return fmt.Errorf("store: negative retention duration")
	case r.DeadLettersMaxRows < 0 || r.SummariesMaxRows < 0 || r.OutboxMaxRows < 0:
		return fmt.Errorf("store: negative row limit")
	case r.OutboxFull != "" && r.OutboxFull != OutboxRefuse && r.OutboxFull != OutboxDropOldest:
		return fmt.Errorf("store: outbox_full must be %s or %s, got %q", OutboxRefuse, OutboxDropOldest, r.OutboxFull)
	}
	return nil
}
