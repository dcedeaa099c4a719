package main

import (
	"math"
	"path/filepath"
	"testing"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

// The whole UCI Occupancy test set (datatest.txt, 2,665 rows) played as one room through
// configs/occupancy.yaml and the shipped configs/occupancy.model, with embedded MQTT,
// SQLite and JetStream: every row is stored once with its wire values, the labels stored
// in SQLite are the model's predictions for those rows, their accuracy against
// datatest.txt's Occupancy column is at least 97%, and the hourly summaries' label
// counts add up to the readings.
func TestClassifyOccupancyEndToEnd(t *testing.T) {
	test, err := datasets.ReadOccupancy(datasets.OccupancyFS, datasets.OccupancyTestFile)
	if err != nil {
		t.Fatal(err)
	}
	r := startClassifier(t, "occupancy", nil)
	msg, err := mqttconn.OccupancyMessages(test, "rooms/office/climate")
	if err != nil {
		t.Fatal(err)
	}
	n := len(test.Values)
	r.publish(t, "occupancy-replay", n, msg)
	sums := r.stop(t, int64(n))

	model, err := models.Load(filepath.Join("..", "..", "configs", "occupancy.model"))
	if err != nil {
		t.Fatal(err)
	}
	meta := model.Meta()
	scaled := make([][]float64, n)
	row := map[int64]int{} // event time (ms) → datatest.txt row
	for i, v := range test.Values {
		scaled[i] = make([]float64, len(v))
		meta.Scalers[""].Apply(v, scaled[i])
		if _, dup := row[test.Times[i].UnixMilli()]; dup {
			t.Fatalf("datatest.txt has two rows at %v", test.Times[i])
		}
		row[test.Times[i].UnixMilli()] = i
	}
	want, tie := predictions(model, scaled)

	rows := storedRows(t, r.db)
	if len(rows) != n {
		t.Fatalf("stored %d readings, want %d", len(rows), n)
	}
	seen := map[int]bool{}
	correct, offline, ties := 0, 0, 0
	for _, inf := range rows {
		i, ok := row[inf.Time.UnixMilli()]
		if !ok || seen[i] || inf.Device != "office" {
			t.Fatalf("stored %s at %v: not a datatest.txt row, or stored twice", inf.Device, inf.Time)
		}
		seen[i] = true
		for j, v := range test.Values[i] {
			if inf.Values[j] != v {
				t.Fatalf("row %d: stored %s = %v, want %v", i, datasets.OccupancyFields[j], inf.Values[j], v)
			}
		}
		truth := 0
		if test.Occupied[i] {
			truth = 1
		}
		if inf.Values[len(datasets.OccupancyFields)] != float64(truth) {
			t.Fatalf("row %d: stored ground truth %v, want %d", i, inf.Values[len(datasets.OccupancyFields)], truth)
		}
		if inf.Model != meta.Version || math.IsNaN(inf.Score) {
			t.Fatalf("row %d: model %q score %v: want scored by %s", i, inf.Model, inf.Score, meta.Version)
		}
		if inf.Label == meta.Classes[truth] {
			correct++
		}
		if meta.Classes[want[i]] == meta.Classes[truth] {
			offline++
		}
		switch {
		case tie[i]:
			ties++
		case inf.Label != meta.Classes[want[i]]:
			t.Errorf("row %d: stored label %q, the model predicts %q", i, inf.Label, meta.Classes[want[i]])
		}
	}
	acc := float64(correct) / float64(n)
	t.Logf("occupancy: %d of %d stored labels correct (accuracy %.2f%%; the model offline: %.2f%%, %d near ties); mean batch %.1f rows; %d summaries",
		correct, n, 100*acc, 100*float64(offline)/float64(n), ties, meanBatch(t, r.metrics), len(sums))
	if acc < 0.97 {
		t.Errorf("accuracy %.4f from the store, want ≥ 0.97", acc)
	}
	if got := checkLabelCounts(t, sums, meta.Classes); got != n {
		t.Errorf("summaries count %d readings, want %d", got, n)
	}
	if dead := deadReasons(t, r.db); len(dead) != 0 {
		t.Errorf("dead letters: %q", dead)
	}
}
