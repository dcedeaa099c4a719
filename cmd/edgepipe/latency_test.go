package main

import (
	"testing"
	"time"
)

func TestLatenciesPairRepeatedTimestampsInOrder(t *testing.T) {
	l := newLatencies()
	t0 := time.Unix(1000, 0)
	ts := time.Unix(5, 0)
	l.publish("a", ts, t0)
	l.publish("a", ts, t0.Add(10*time.Millisecond)) // same device and event time
	l.publish("b", ts, t0.Add(20*time.Millisecond))
	l.commit("a", ts, t0.Add(30*time.Millisecond)) // pairs with the first publish: 30 ms
	l.commit("a", ts, t0.Add(35*time.Millisecond)) // pairs with the second: 25 ms
	l.commit("b", ts, t0.Add(21*time.Millisecond)) // 1 ms
	l.commit("c", ts, t0.Add(99*time.Millisecond)) // never published: ignored
	if got := l.percentile(50); got != 25*time.Millisecond {
		t.Errorf("p50 = %v, want 25ms", got)
	}
	if got := l.percentile(100); got != 30*time.Millisecond {
		t.Errorf("p100 = %v, want 30ms", got)
	}
	if got := l.span(); got != 21*time.Millisecond {
		t.Errorf("span = %v, want 21ms (first publish to last commit)", got)
	}
}
