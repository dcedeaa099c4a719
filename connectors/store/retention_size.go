package store

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"

	"github.com/edgepipe/edgepipe/pipeline"
)

// walFrameHeader is the size of a write-ahead log frame's header: each page a
// transaction writes takes page size + 24 bytes of the -wal file (SQLite file format,
// section 4.1, "WAL File Format").
const walFrameHeader = 24

// dbUsage is one measurement of the database's size.
type dbUsage struct {
	// main and wal are the sizes of the database file and of its -wal file, bytes.
	main, wal int64
	// pages is the database's size in pages as committed (PRAGMA page_count, which
	// counts pages still only in the write-ahead log); free is how many of them are
	// on the freelist (PRAGMA freelist_count), reused by later writes before the file
	// grows.
	pages, free int64
}

// files returns the sizes of the database file and of its -wal file (0 when missing).
func files(path string) (main, wal int64, err error) {
	size := func(p string) (int64, error) {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	}
	if main, err = size(path); err != nil {
		return 0, 0, err
	}
	wal, err = size(path + "-wal")
	return main, wal, err
}

// measure returns the database's usage, read through db (PRAGMA page_count and
// freelist_count) and from the file system.
func measure(ctx context.Context, db *sql.DB, path string) (dbUsage, error) {
	var u dbUsage
	if err := db.QueryRowContext(ctx, `SELECT page_count, freelist_count FROM pragma_page_count(), pragma_freelist_count()`).Scan(&u.pages, &u.free); err != nil {
		return u, err
	}
	var err error
	u.main, u.wal, err = files(path)
	return u, err
}

// sizeBudget splits Retention.MaxSize between the database's pages and its write-ahead
// log, and says when a write fits.
type sizeBudget struct {
	// max is the limit on main file + -wal file, bytes; page the page size, bytes.
	max, page int64
	// wal is the share of max reserved for the write-ahead log: max/4, from 16 frames
	// up to 64 MiB.
	wal int64
	// data = max − wal bounds the database's pages (page_count × page).
	data int64
	// high and low are the used bytes ((page_count − freelist_count) × page) at which
	// a size pass starts (95 % of data, and room for a chunk) and where it stops (85 %
	// of data, and room for two more chunks), so that a pass frees room for many
	// transactions.
	high, low int64
}

// newSizeBudget returns the budget of a maxSize-byte limit for pages of page bytes. Its
// low mark is not positive when the limit is too small for the page size (see
// setupRetention).
func newSizeBudget(maxSize, page int64) sizeBudget {
	b := sizeBudget{max: maxSize, page: page}
	b.wal = min(max(maxSize/4, 16*(page+walFrameHeader)), 64<<20)
	b.data = maxSize - b.wal
	chunk := b.chunkPages() * page
	b.high = min(b.data*95/100, b.data-chunk)
	b.low = min(b.data*85/100, b.high-2*chunk)
	return b
}

// chunkPages is the most pages one sink transaction should modify: half the log's share,
// so that it fits beside a log that has not been checkpointed yet.
func (b sizeBudget) chunkPages() int64 { return max(b.wal/2/(b.page+walFrameHeader), 1) }

// checkpointFrames is the wal_autocheckpoint setting (frames): chunkPages, at most
// SQLite's default of 1000.
func (b sizeBudget) checkpointFrames() int64 { return min(b.chunkPages(), 1000) }

// used returns the bytes held by live pages.
func (b sizeBudget) used(u dbUsage) int64 { return (u.pages - u.free) * b.page }

// bound returns the size the database reaches without another write: the main file
// grows to page_count pages at the next checkpoint, and the -wal file keeps its size.
func (b sizeBudget) bound(u dbUsage) int64 { return max(u.main, u.pages*b.page) + u.wal }

// fits reports whether a transaction writing at most need pages keeps the database
// within its limits: its new pages (those the freelist cannot supply) keep page_count
// within data, and its log frames keep main + -wal within max.
func (b sizeBudget) fits(u dbUsage, need int64) bool {
	pages := u.pages + max(need-u.free, 0)
	return pages*b.page <= b.data && max(u.main, pages*b.page)+u.wal+need*(b.page+walFrameHeader) <= b.max
}

// fitsLog reports whether a transaction writing frames log frames but no new pages (a
// delete, a vacuum step) keeps main + -wal within max.
func (b sizeBudget) fitsLog(u dbUsage, frames int64) bool {
	return b.bound(u)+frames*(b.page+walFrameHeader) <= b.max
}

// pagesFor is an upper estimate of the pages a transaction modifies that writes rows
// rows holding table bytes in a table whose new rows are appended (packed pages) and
// index bytes in indexes, spread over keys distinct key ranges: index pages are about
// half full after splits, each key range touches a leaf that may split (two pages), and
// a few interior, freelist and pointer-map pages change.
func pagesFor(table, index, rows, keys, page int64) int64 {
	const interior = 8
	return (table+2*index+page-1)/page + 2*min(keys, rows) + interior
}

// recordsEstimate accumulates, record by record, the pages a sink transaction storing
// them modifies (pagesFor). A value is counted as 25 bytes of JSON (the longest float64
// text and a comma), a row's fixed columns as 64 bytes and its index entry as 32 bytes
// besides the device. A dead letter stores its payload and reason (at least 160 bytes
// counted) and a second index entry, and so may any record when late is set (the
// summarizer dead-letters late readings) or when it has no device or time (it is then
// dead-lettered).
type recordsEstimate struct {
	late               bool
	table, index, rows int64
	// devices and topics are the key ranges: a device's readings (inferences) and a
	// topic's dead letters (dead_letters' key starts with the topic).
	devices, topics map[string]struct{}
}

// recordKeys says which of a record's key ranges an estimate does not have yet.
type recordKeys struct{ device, topic bool }

// with returns the estimate's table and index bytes with r added, and r's new key
// ranges, without adding it. It does not allocate.
func (e *recordsEstimate) with(r *pipeline.Record) (table, index int64, k recordKeys) {
	table = e.table + 64 + int64(len(r.Device)+len(r.Topic)+len(r.Model)+len(r.Label)) + 25*int64(len(r.Values))
	index = e.index + 32 + int64(len(r.Device))
	_, known := e.devices[r.Device]
	k.device = !known
	if r.Dead() || e.late || r.Device == "" || r.Time.IsZero() {
		table += int64(len(r.Payload)) + max(int64(len(r.DeadLetter)), 160)
		index += 32 + int64(len(r.Topic))
		_, known := e.topics[r.Topic]
		k.topic = !known
	}
	return table, index, k
}

// keys returns the number of key ranges with k added.
func (e *recordsEstimate) keys(k recordKeys) int64 {
	n := int64(len(e.devices) + len(e.topics))
	if k.device {
		n++
	}
	if k.topic {
		n++
	}
	return n
}

// add adds r.
func (e *recordsEstimate) add(r *pipeline.Record) {
	table, index, k := e.with(r)
	e.set(r, table, index, k)
}

// set makes the estimate's bytes table and index and adds r's new key ranges k and a
// row: with's results for r, applied.
func (e *recordsEstimate) set(r *pipeline.Record, table, index int64, k recordKeys) {
	e.table, e.index = table, index
	e.rows++
	if k.device {
		if e.devices == nil {
			e.devices = map[string]struct{}{}
		}
		e.devices[r.Device] = struct{}{}
	}
	if k.topic {
		if e.topics == nil {
			e.topics = map[string]struct{}{}
		}
		e.topics[r.Topic] = struct{}{}
	}
}

// pages returns the estimate's pages (pagesFor).
func (e *recordsEstimate) pages(page int64) int64 {
	return pagesFor(e.table, e.index, e.rows, e.keys(recordKeys{}), page)
}

// recordsPages returns the recordsEstimate of batch.
func recordsPages(batch []*pipeline.Record, late bool, page int64) int64 {
	e := recordsEstimate{late: late}
	for _, r := range batch {
		e.add(r)
	}
	return e.pages(page)
}

// batchPart is a part of a batch committed in one transaction, and the pages it may
// modify (recordsEstimate; 0 when not estimated, without a size limit).
type batchPart struct {
	recs  []*pipeline.Record
	pages int64
}

// split cuts batch into consecutive parts of at most chunk pages each (recordsEstimate),
// so that a batch too large for a small size limit is committed in several
// transactions; a record larger than chunk is a part of its own. Each record is
// estimated once.
func split(batch []*pipeline.Record, late bool, page, chunk int64) []batchPart {
	var parts []batchPart
	e := recordsEstimate{late: late}
	start := 0
	for i, r := range batch {
		table, index, k := e.with(r)
		if e.rows > 0 && pagesFor(table, index, e.rows+1, e.keys(k), page) > chunk {
			parts = append(parts, batchPart{batch[start:i], e.pages(page)})
			start, e = i, recordsEstimate{late: late}
			table, index, k = e.with(r)
		}
		e.set(r, table, index, k)
	}
	return append(parts, batchPart{batch[start:], e.pages(page)})
}
