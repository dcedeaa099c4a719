package mqtt

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/edgepipe/edgepipe/datasets"
)

// Payload keys of the classifier replays (OccupancyMessages, MNISTMessages).
const (
	// OccupancyTruthKey holds an Occupancy row's ground truth, 1 (occupied) or 0.
	OccupancyTruthKey = "occupied"
	// MNISTPixelsKey holds an MNIST image's pixels; MNISTTruthKey its true digit.
	MNISTPixelsKey = "px"
	MNISTTruthKey  = "digit"
)

// OccupancyMessages returns the messages of an Occupancy file (datasets.ReadOccupancy)
// for Publish, row k as message k on topic: a JSON object {"ts": <epoch ms, UTC>,
// "temperature": …, "humidity": …, "light": …, "co2": …, "humidity_ratio": …,
// "occupied": 1|0}, the sensor values in datasets.OccupancyFields' units and shortest
// round-trip decimals, "occupied" the row's ground truth (OccupancyTruthKey). It returns
// an error when topic is not a valid topic name (empty, or holding + # or NUL).
func OccupancyMessages(o datasets.Occupancy, topic string) (func(k int, at time.Time) Message, error) {
	if err := checkTopicName(topic); err != nil {
		return nil, err
	}
	keys := make([][]byte, len(datasets.OccupancyFields))
	for j, f := range datasets.OccupancyFields {
		keys[j] = strconv.AppendQuote(nil, f)
	}
	return func(k int, _ time.Time) Message {
		b := make([]byte, 0, 160)
		b = append(b, `{"ts":`...)
		b = strconv.AppendInt(b, o.Times[k].UnixMilli(), 10)
		for j, v := range o.Values[k] {
			b = append(append(append(b, ','), keys[j]...), ':')
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
		truth := 0
		if o.Occupied[k] {
			truth = 1
		}
		b = append(b, `,"`+OccupancyTruthKey+`":`...)
		b = strconv.AppendInt(b, int64(truth), 10)
		return Message{Topic: topic, Payload: append(b, '}')}
	}, nil
}

// MNISTMessages returns the messages of an MNIST split (datasets.LoadMNIST) for Publish,
// image k as message k on topic: a msgpack map {"ts": <publish time, epoch ms>, "px":
// [Rows·Cols pixels, row-major, integers 0–255], "digit": <the true digit>}
// (MNISTPixelsKey, MNISTTruthKey) — or, with bare, the pixel array alone, as a camera
// without a clock would send it. It returns an error when topic is not a valid topic
// name.
func MNISTMessages(m datasets.MNIST, topic string, bare bool) (func(k int, at time.Time) Message, error) {
	if err := checkTopicName(topic); err != nil {
		return nil, err
	}
	return func(k int, at time.Time) Message {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		// Writes to a bytes.Buffer do not fail, and every value written is encodable.
		if !bare {
			_ = enc.EncodeMapLen(3)
			_ = enc.EncodeString("ts")
			_ = enc.EncodeInt(at.UnixMilli())
			_ = enc.EncodeString(MNISTPixelsKey)
		}
		_ = enc.EncodeArrayLen(len(m.Images[k]))
		for _, p := range m.Images[k] {
			_ = enc.EncodeUint(uint64(p)) // 1 byte below 128, 2 above
		}
		if !bare {
			_ = enc.EncodeString(MNISTTruthKey)
			_ = enc.EncodeInt(int64(m.Labels[k]))
		}
		return Message{Topic: topic, Payload: buf.Bytes()}
	}, nil
}

// checkTopicName returns an error for a topic that cannot be published to: empty, or
// holding the wildcards + or #, or NUL (MQTT 3.1.1 §4.7).
func checkTopicName(topic string) error {
	if topic == "" || strings.ContainsAny(topic, "+#\x00") {
		return fmt.Errorf("replay: %q is not a valid MQTT topic name (no + or #)", topic)
	}
	return nil
}
