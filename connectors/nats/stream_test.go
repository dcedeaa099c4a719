package natsconn

import (
	"testing"
	"time"
)

func TestCovers(t *testing.T) {
	cases := []struct {
		pattern, subject string
		want             bool
	}{
		{"edgepipe.>", "edgepipe.>", true},
		{">", "edgepipe.>", true},
		{"*.>", "edgepipe.>", true},
		{"edgepipe.*", "edgepipe.>", false},
		{"edgepipe.*.summary.*", "edgepipe.>", false},
		{"other.>", "edgepipe.>", false},
		{"edgepipe", "edgepipe.>", false},
		{"edgepipe.>", "edgepipe", false},
		{"acme.edgepipe.>", "edgepipe.>", false},
		{"acme.>", "acme.edgepipe.>", true},
		{"edgepipe.*.summary.*", "edgepipe.*.summary.*", true},
		{"edgepipe.>", "edgepipe.*.summary.*", true},
		{"edgepipe.*.summary.>", "edgepipe.*.summary.*", true},
		{"edgepipe.plant-1.>", "edgepipe.*.summary.*", false},
		{"edgepipe.*.*", "edgepipe.*.summary.*", false},
		{"a.b", "a.b", true},
		{"a.*", "a.*", true},
		{"a.b", "a.*", false},
	}
	for _, c := range cases {
		if got := covers(c.pattern, c.subject); got != c.want {
			t.Errorf("covers(%q, %q) = %v, want %v", c.pattern, c.subject, got, c.want)
		}
	}
}

func TestRetryDelayBounds(t *testing.T) {
	max := 2 * time.Second
	for attempt, want := range map[int]time.Duration{1: 250 * time.Millisecond, 2: 500 * time.Millisecond, 3: time.Second, 4: 2 * time.Second, 5: 2 * time.Second, 100: 2 * time.Second} {
		for range 50 {
			if d := retryDelay(attempt, max); d < want/2 || d > want {
				t.Fatalf("retryDelay(%d, %s) = %s, want in [%s, %s]", attempt, max, d, want/2, want)
			}
		}
	}
}
