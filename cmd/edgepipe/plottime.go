package main

import (
	"math"
	"time"

	"gonum.org/v1/plot"
)

// timeTickSteps are the spacings a time axis may use, shortest first; past the last one
// ticks fall on the first day of every Nth month.
var timeTickSteps = []time.Duration{
	time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour,
}

// maxTimeTicks is the most labelled ticks a time axis gets.
const maxTimeTicks = 8

// timeTicks is a plot.Ticker for an axis of Unix seconds (UTC): at most maxTimeTicks
// labelled ticks on round times (whole minutes, hours, UTC midnights, Mondays, first days
// of months), with labels as precise as the spacing needs ("15:04:05", "01-02 15:04",
// "2006-01-02", "2006-01").
func timeTicks(min, max float64) []plot.Tick {
	if !(max > min) {
		return nil
	}
	span := time.Duration((max - min) * 1e9)
	for _, step := range timeTickSteps {
		if span/step >= maxTimeTicks {
			continue
		}
		format := "2006-01-02"
		switch {
		case step < time.Minute:
			format = "15:04:05"
		case step < 24*time.Hour:
			format = "01-02 15:04"
		}
		// Weekly ticks fall on Mondays: the Unix epoch was a Thursday, 4 days before one.
		var offset time.Duration
		if step >= 7*24*time.Hour {
			offset = 4 * 24 * time.Hour
		}
		s, o := step.Seconds(), offset.Seconds()
		var ticks []plot.Tick
		for x := math.Ceil((min-o)/s)*s + o; x <= max; x += s {
			ticks = append(ticks, plot.Tick{Value: x, Label: plot.UTCUnixTime(x).Format(format)})
		}
		return ticks
	}
	return monthTicks(min, max)
}

// monthTicks are ticks on the first day of every Nth month (N = 1, 2, 3, 6, 12, 24, …),
// at most maxTimeTicks of them.
func monthTicks(min, max float64) []plot.Tick {
	from, to := plot.UTCUnixTime(min), plot.UTCUnixTime(max)
	months := (to.Year()-from.Year())*12 + int(to.Month()-from.Month()) + 1
	every := 1
	for _, n := range []int{1, 2, 3, 6, 12} {
		if every = n; months/n < maxTimeTicks {
			break
		}
	}
	for months/every >= maxTimeTicks {
		every *= 2
	}
	format := "2006-01"
	if every%12 == 0 {
		format = "2006"
	}
	m := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	if m.Before(from) {
		m = m.AddDate(0, 1, 0)
	}
	// Align to multiples of every months since year 0 so that yearly ticks fall on Januaries.
	for (m.Year()*12+int(m.Month())-1)%every != 0 {
		m = m.AddDate(0, 1, 0)
	}
	var ticks []plot.Tick
	for ; !m.After(to); m = m.AddDate(0, every, 0) {
		ticks = append(ticks, plot.Tick{Value: float64(m.Unix()), Label: m.Format(format)})
	}
	return ticks
}
