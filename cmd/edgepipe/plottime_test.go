package main

import (
	"strings"
	"testing"
	"time"
)

func TestTimeTicks(t *testing.T) {
	day := func(s string) float64 {
		d, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return float64(d.Unix())
	}
	for _, c := range []struct {
		from, to string
		want     string
	}{
		// 2 days: every 12 hours (every 6 would be 8 steps, too many).
		{"2024-03-01 00:00:00", "2024-03-03 00:00:00", "03-01 00:00 03-01 12:00 03-02 00:00 03-02 12:00 03-03 00:00"},
		// 1 day 23 hours: every 6 hours.
		{"2024-03-01 00:00:00", "2024-03-02 23:00:00", "03-01 00:00 03-01 06:00 03-01 12:00 03-01 18:00 03-02 00:00 03-02 06:00 03-02 12:00 03-02 18:00"},
		// 14 days from a Tuesday: every 2 days at UTC midnight.
		{"2024-03-05 10:00:00", "2024-03-19 09:00:00", "2024-03-06 2024-03-08 2024-03-10 2024-03-12 2024-03-14 2024-03-16 2024-03-18"},
		// 7 weeks: Mondays.
		{"2024-03-05 00:00:00", "2024-04-22 00:00:00", "2024-03-11 2024-03-18 2024-03-25 2024-04-01 2024-04-08 2024-04-15 2024-04-22"},
		// 7 months: first days of months.
		{"2014-07-01 00:00:00", "2015-01-31 23:00:00", "2014-07 2014-08 2014-09 2014-10 2014-11 2014-12 2015-01"},
		// 3 years: every 6 months, on Januaries and Julies.
		{"2020-02-01 00:00:00", "2023-02-01 00:00:00", "2020-07 2021-01 2021-07 2022-01 2022-07 2023-01"},
		// 20 years: every 4 years (every 2 would be 10 ticks), on years divisible by 4.
		{"2001-05-01 00:00:00", "2021-05-01 00:00:00", "2004 2008 2012 2016 2020"},
		// 90 seconds: every 15 seconds.
		{"2024-03-01 12:00:05", "2024-03-01 12:01:35", "12:00:15 12:00:30 12:00:45 12:01:00 12:01:15 12:01:30"},
	} {
		ticks := timeTicks(day(c.from), day(c.to))
		var labels []string
		for _, tk := range ticks {
			labels = append(labels, tk.Label)
			if tk.Value < day(c.from) || tk.Value > day(c.to) {
				t.Errorf("%s…%s: tick %s outside", c.from, c.to, tk.Label)
			}
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("%s…%s:\n got %s\nwant %s", c.from, c.to, got, c.want)
		}
	}
	if ticks := timeTicks(5, 5); ticks != nil {
		t.Errorf("empty span: %v", ticks)
	}
}
