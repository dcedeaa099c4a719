package mqtt

import (
	"syscall"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// benchMessage is a received PUBLISH as paho hands it to the handler.
type benchMessage struct {
	topic   string
	payload []byte
	acked   int
}

func (m *benchMessage) Duplicate() bool   { return false }
func (m *benchMessage) Qos() byte         { return 0 }
func (m *benchMessage) Retained() bool    { return false }
func (m *benchMessage) Topic() string     { return m.topic }
func (m *benchMessage) MessageID() uint16 { return 0 }
func (m *benchMessage) Payload() []byte   { return m.payload }
func (m *benchMessage) Ack()              { m.acked++ }

// BenchmarkHandle measures the source's message handler (paho's callback: a record with
// its ack handle, sent into the pipeline) and the record's Done, without a broker: ns,
// CPU ns and allocations per message.
func BenchmarkHandle(b *testing.B) {
	s, err := NewSource(SourceOptions{URL: "tcp://127.0.0.1:1", Topics: []string{"bench/+/reading"}, ClientID: "bench", QoS: 1}, testEnv())
	if err != nil {
		b.Fatal(err)
	}
	out := make(chan *pipeline.Record, 1)
	s.out = out
	msg := &benchMessage{topic: "bench/nyc_taxi-000/reading", payload: []byte(`{"ts":1704067200000,"value":12.5}`)}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	for b.Loop() {
		s.handle(nil, msg)
		(<-out).Done()
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	if msg.acked != b.N {
		b.Fatalf("%d acks for %d messages", msg.acked, b.N)
	}
}

// cpuTime returns the CPU time (user + system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
