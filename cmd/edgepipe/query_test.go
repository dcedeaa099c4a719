package main

import (
	"testing"
	"time"
)

func TestParseTimeFlag(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2014-07-01":                time.Date(2014, 7, 1, 0, 0, 0, 0, time.UTC),
		"2014-07-01T10:30:00Z":      time.Date(2014, 7, 1, 10, 30, 0, 0, time.UTC),
		"2014-07-01T12:30:00+02:00": time.Date(2014, 7, 1, 10, 30, 0, 0, time.UTC),
		"2014-07-01 10:30:00":       time.Date(2014, 7, 1, 10, 30, 0, 0, time.UTC),
		"":                          {},
	} {
		got, err := parseTimeFlag("--since", in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTimeFlag(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := parseTimeFlag("--since", "2h"); err != nil || time.Since(got) < 2*time.Hour || time.Since(got) > 2*time.Hour+time.Minute {
		t.Errorf("2h: %v %v", got, err)
	}
	if _, err := parseTimeFlag("--since", "yesterday"); err == nil || err.Error() != `--since: "yesterday" is neither an RFC 3339 time, a date (2006-01-02) nor a duration` {
		t.Errorf("yesterday: %v", err)
	}
}
