package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
)

// The simulated sensors of `edgepipe bench`: real values from the shipped NAB
// recordings, played by any number of sensors for as long as the bench runs.

// benchEpoch is the event time of every sensor's first reading; benchStep is the interval
// between a sensor's readings (the NAB recordings' usual 5 minutes), so a 24 h summary
// window closes every 288 readings of a sensor.
var benchEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

const benchStep = 5 * time.Minute

// benchSensors are n simulated sensors. Sensor i plays the values of stream i mod s (s
// streams) in file order, looping, starting at row c·rows/⌈n/s⌉ for its copy number
// c = i div s, so the copies of one stream are spread over it rather than in step.
type benchSensors struct {
	devices []string // device ids, "<stream>-<copy>", e.g. "nyc_taxi-003"
	topics  []string // "<root>/<device>/reading"
	values  [][]float64
	offsets []int
}

// newBenchSensors returns n ≥ 1 sensors over streams (at least one, each with at least
// one value), publishing under the topic root.
func newBenchSensors(streams []datasets.Stream, n int, root string) *benchSensors {
	s := &benchSensors{}
	copies := (n + len(streams) - 1) / len(streams)
	for i := range n {
		st := streams[i%len(streams)]
		c := i / len(streams)
		device := fmt.Sprintf("%s-%03d", st.Name, c)
		s.devices = append(s.devices, device)
		s.topics = append(s.topics, root+"/"+device+"/reading")
		s.values = append(s.values, st.Values)
		s.offsets = append(s.offsets, c*len(st.Values)/copies)
	}
	return s
}

// reading returns the k-th reading of the run (k ≥ 0): the sensors take turns (sensor
// k mod n), and a sensor's j-th reading (j = k div n) has the event time
// benchEpoch + j·benchStep and the value of its stream's row (offset + j) mod rows.
func (s *benchSensors) reading(k int) (sensor int, ts time.Time, value float64) {
	sensor, j := k%len(s.devices), k/len(s.devices)
	v := s.values[sensor]
	return sensor, benchEpoch.Add(time.Duration(j) * benchStep), v[(s.offsets[sensor]+j)%len(v)]
}

// benchMaxPayload bounds the length of a benchPayload: `{"ts":` and `,"value":`, an
// int64 and a float64 (at most 24 characters), and "}".
const benchMaxPayload = 6 + 20 + 9 + 24 + 1

// benchPayload is the sensor payload the demo pipeline decodes, the same as `edgepipe
// replay` publishes: {"ts": <epoch ms>, "value": <number>}.
func benchPayload(ts time.Time, value float64) []byte {
	return appendBenchPayload(make([]byte, 0, 48), ts, value)
}

// appendBenchPayload appends benchPayload(ts, value) to b.
func appendBenchPayload(b []byte, ts time.Time, value float64) []byte {
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, ts.UnixMilli(), 10)
	b = append(b, `,"value":`...)
	b = strconv.AppendFloat(b, value, 'g', -1, 64)
	return append(b, '}')
}
