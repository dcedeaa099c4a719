package mqtt

import "github.com/edgepipe/edgepipe/pipeline"

// Health implements pipeline.HealthChecker: the source is ready while it is connected
// and its subscription was granted on the current connection (after a reconnection,
// once it has subscribed again). The detail names the broker without its password.
func (s *Source) Health() pipeline.Check {
	c := pipeline.Check{Name: "mqtt"}
	switch {
	case s.subscribed.Load():
		c.OK, c.Detail = true, "connected to "+s.url+" and subscribed"
	case s.client.IsConnectionOpen():
		c.Detail = "connected to " + s.url + ", not subscribed yet"
	default:
		c.Detail = "not connected to " + s.url + " (reconnecting)"
	}
	return c
}
