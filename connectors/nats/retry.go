package natsconn

import (
	"math/rand/v2"
	"time"
)

// retryBase is the first retry delay; each further attempt doubles it up to the cap.
const retryBase = 250 * time.Millisecond

// retryDelay returns the wait before retry number attempt (1-based): capped exponential
// backoff with "equal jitter" (AWS Architecture Blog, "Exponential Backoff and Jitter",
// 2015): d = min(max, base·2^(attempt-1)), then a uniform value in [d/2, d]. The result
// never exceeds max, and spreads the retries of many gateways after a cloud outage.
func retryDelay(attempt int, max time.Duration) time.Duration {
	d := max
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 32 {
		if e := retryBase << (attempt - 1); e < max {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
