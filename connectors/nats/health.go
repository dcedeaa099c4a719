package natsconn

import (
	"fmt"

	"github.com/edgepipe/edgepipe/pipeline"
)

// Health implements pipeline.HealthChecker: the output is ready while it is connected to
// NATS, or, while it is not, as long as the outbox (edgepipe_outbox_depth) holds fewer
// than ready_outbox_limit summaries: a short uplink outage is normal at the edge and the
// outbox holds the summaries meanwhile.
func (f *forwarder) Health() pipeline.Check {
	f.mu.Lock()
	nc := f.nc
	f.mu.Unlock()
	c := pipeline.Check{Name: typeName}
	depth := int(pipeline.GaugeValue(f.m.OutboxDepth))
	switch {
	case nc != nil && nc.IsConnected():
		c.OK, c.Detail = true, "connected"
	case depth < f.cfg.readyOutbox:
		c.OK, c.Detail = true, fmt.Sprintf("not connected; the outbox holds %d summaries, fewer than %s %d", depth, fieldReadyOutbox, f.cfg.readyOutbox)
	default:
		c.Detail = fmt.Sprintf("not connected and the outbox holds %d summaries (%s %d)", depth, fieldReadyOutbox, f.cfg.readyOutbox)
	}
	return c
}
