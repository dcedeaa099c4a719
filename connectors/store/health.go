package store

import "github.com/edgepipe/edgepipe/pipeline"

// Health implements pipeline.HealthChecker: the store is ready while its last
// transaction committed (edgepipe_store_healthy is 1). After a failed one (disk full,
// read-only file, I/O error) it reports not ready until a retry commits: meanwhile
// nothing is acked and the broker keeps the readings.
func (s *Sink) Health() pipeline.Check {
	c := pipeline.Check{Name: "store"}
	if pipeline.GaugeValue(s.metrics.StoreHealthy) == 1 {
		c.OK, c.Detail = true, "the last transaction committed"
		return c
	}
	c.Detail = "the last transaction failed (see the log); retrying, nothing is acked meanwhile"
	return c
}
