package pipeline

import "time"

// observeCommits returns the Hooks.Committed the engine gives the store: it counts the
// store stage's records in m.StageRecords (newly committed and duplicates: every record
// of the transaction, each acked next) and observes m.E2ELatency for each newly committed
// record with an arrival time, then calls next (the embedding program's hook) when set.
func observeCommits(m *Metrics, next func(recs []*Record, duplicates int)) func(recs []*Record, duplicates int) {
	stored := m.StageRecords.WithLabelValues(stageStore)
	return func(recs []*Record, duplicates int) {
		now := time.Now()
		stored.Add(float64(len(recs) + duplicates))
		for _, r := range recs {
			if !r.Received.IsZero() {
				m.E2ELatency.Observe(now.Sub(r.Received).Seconds())
			}
		}
		if next != nil {
			next(recs, duplicates)
		}
	}
}
