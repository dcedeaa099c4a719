package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/edgepipe/edgepipe/connectors/embedded"
)

// edgepipe replay --dataset occupancy|mnist publishes the first --limit rows or images to
// the dataset's default topic; flags of another dataset are refused.
func TestReplayDatasets(t *testing.T) {
	broker, err := embedded.StartMQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	set := func(names ...string) func(string) bool {
		return func(f string) bool { return strings.Contains(" "+strings.Join(names, " ")+" ", " "+f+" ") }
	}
	for _, tc := range []struct {
		rf      replayFlags
		changed []string
		want    string
	}{
		{replayFlags{dataset: datasetOccupancy, limit: 25}, []string{"limit"},
			"published 25 Occupancy rows of occupancy/datatest.txt as office on rooms/office/climate (3"},
		{replayFlags{dataset: datasetOccupancy, device: "lab-2", topic: "b/{device}/t"}, []string{"device", "topic"},
			"published 2665 Occupancy rows of occupancy/datatest.txt as lab-2 on b/lab-2/t ("},
		{replayFlags{dataset: datasetMNIST, limit: 3, bare: true}, []string{"limit", "bare"},
			"published 3 MNIST test images as camera1 on cameras/camera1/image (2"},
	} {
		tc.rf.url, tc.rf.speed, tc.rf.clientID, tc.rf.qos = broker.URL(), "max", "replay-test", 1
		var out bytes.Buffer
		if err := runReplay(context.Background(), tc.rf, &out, set(tc.changed...)); err != nil {
			t.Fatalf("%+v: %v", tc.rf, err)
		}
		if !strings.HasPrefix(out.String(), tc.want) {
			t.Errorf("%+v: printed %q, want prefix %q", tc.rf, out.String(), tc.want)
		}
	}
	for _, tc := range []struct {
		rf      replayFlags
		changed []string
		want    string
	}{
		{replayFlags{dataset: datasetNAB}, []string{"limit"}, "--limit does not apply to --dataset nab"},
		{replayFlags{dataset: datasetOccupancy}, []string{"bare"}, "--bare does not apply to --dataset occupancy"},
		{replayFlags{dataset: datasetMNIST}, []string{"data"}, "--data does not apply to --dataset mnist"},
		{replayFlags{dataset: datasetOccupancy, limit: -1, speed: "max"}, nil, "--limit -1: want ≥ 0 (0 = all)"},
		{replayFlags{dataset: "cifar", speed: "max"}, nil, `--dataset "cifar": want nab, occupancy or mnist`},
		{replayFlags{dataset: datasetOccupancy, speed: "max", topic: "a/+/b"}, []string{"topic"}, `replay: "a/+/b" is not a valid MQTT topic name (no + or #)`},
	} {
		tc.rf.url = broker.URL()
		err := runReplay(context.Background(), tc.rf, &bytes.Buffer{}, set(tc.changed...))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%+v: %v, want %s", tc.rf, err, tc.want)
		}
	}
}
