package datasets

import (
	"testing"
	"time"
)

func TestReadNABShipped(t *testing.T) {
	streams, err := ReadNABDir("")
	if err != nil {
		t.Fatal(err)
	}
	if len(streams) != 7 {
		t.Fatalf("got %d streams, want 7", len(streams))
	}
	rows := map[string]int{}
	for _, s := range streams {
		rows[s.Name] = len(s.Values)
	}
	// wc -l minus the header line.
	if rows["machine_temperature_system_failure"] != 22695 || rows["nyc_taxi"] != 10320 {
		t.Fatalf("row counts %v", rows)
	}
	taxi := streams[4]
	if taxi.Name != "nyc_taxi" || taxi.Key != "realKnownCause/nyc_taxi.csv" {
		t.Fatalf("stream 4 = %s %s", taxi.Name, taxi.Key)
	}
	if !taxi.Times[0].Equal(time.Date(2014, 7, 1, 0, 0, 0, 0, time.UTC)) || taxi.Values[0] != 10844 || taxi.Values[1] != 8127 {
		t.Fatalf("first rows %v %v %v", taxi.Times[0], taxi.Values[0], taxi.Values[1])
	}
}

func TestReadNABLabels(t *testing.T) {
	labels, err := ReadNABLabels("")
	if err != nil {
		t.Fatal(err)
	}
	ws := labels["realKnownCause/machine_temperature_system_failure.csv"]
	if len(ws) != 4 {
		t.Fatalf("machine temperature has %d windows, want 4", len(ws))
	}
	if !ws[0].Start.Equal(time.Date(2013, 12, 10, 6, 25, 0, 0, time.UTC)) {
		t.Fatalf("first window starts %v", ws[0].Start)
	}
}

func TestProbationary(t *testing.T) {
	for _, c := range []struct{ n, want int }{{1000, 150}, {5000, 750}, {22695, 750}, {4032, 604}} {
		if got := Probationary(c.n); got != c.want {
			t.Errorf("Probationary(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}
