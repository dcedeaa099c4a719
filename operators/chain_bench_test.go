package operators_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/edgepipe/edgepipe/connectors/store" // the sqlite store
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/pipeline"
	dto "github.com/prometheus/client_model/go"
)

// The in-process chain benchmark: the demo pipeline (configs/demo.yaml: decode, clean,
// normalize, fill, window of 16, the demo autoencoder, SQLite with 24 h summaries)
// built by pipeline.Build and run by the engine, fed by a source that hands it
// prepared MQTT payloads, so that neither a broker nor the network is measured. One
// benchmark op is one reading: ns/op is the wall time per reading with every stage
// running concurrently, allocs/op and B/op are per reading, and cpu-µs/reading is the
// process's CPU time per reading (all goroutines: with other load on the machine it is
// the steadier figure).

// Test-only component types of the chain benchmark.
const (
	chainInput   = "bench_payloads"
	chainDiscard = "bench_discard"
)

// chainMessages is what the bench_payloads input of the next pipeline built delivers
// (set before Build); chainAcked counts the acks of its records.
var (
	chainMessages []chainMessage
	chainAcked    atomic.Int64
)

type chainMessage struct {
	topic   string
	payload []byte
}

func init() {
	pipeline.Register(pipeline.Spec{Kind: pipeline.KindInput, Name: chainInput, Summary: "test: prepared payloads",
		Build: func(*pipeline.Conf, *pipeline.Env) (any, error) { return &payloadSource{msgs: chainMessages}, nil }})
	pipeline.Register(pipeline.Spec{Kind: pipeline.KindStore, Name: chainDiscard, Summary: "test: acks and forgets",
		Build: func(*pipeline.Conf, *pipeline.Env) (any, error) { return discardSink{}, nil }})
}

// payloadSource delivers msgs as records (arrival time now, an ack counted in
// chainAcked), then ends, which drains the pipeline.
type payloadSource struct{ msgs []chainMessage }

func (s *payloadSource) Run(ctx context.Context, out chan<- *pipeline.Record) error {
	for _, m := range s.msgs {
		// An ack handle per message, as the MQTT source makes.
		rec := pipeline.NewAckedRecord(m.topic, m.payload, time.Now().UTC(), chainAcker{})
		select {
		case out <- rec:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

func (s *payloadSource) Close() error { return nil }

// chainAcker acks a message by counting it in chainAcked.
type chainAcker struct{}

func (chainAcker) Ack() { chainAcked.Add(1) }

// discardSink acks every record without keeping it.
type discardSink struct{}

func (discardSink) Run(_ context.Context, in <-chan *pipeline.Record) error {
	for r := range in {
		r.Done()
	}
	return nil
}

func (discardSink) Close() error { return nil }

// chainConfig is configs/demo.yaml with the bench input and the given store section.
const chainConfig = `name: chain
site: bench
fields: [value]
input:
  type: ` + chainInput + `
pipeline:
  - type: decode
    format: json
    device: topic:1
    time_field: ts
    time_unit: ms
  - type: clean
  - type: normalize
    model: demo.model
  - type: fill
  - type: window
    size: 16
  - type: infer
    model: demo.model
    max_batch: 64
    max_delay: 5ms
    workers: 2
    watch: false
summarize:
  type: tumbling
  window: 24h
store:
`

// chainPayloads returns n readings of 100 sensors playing the NAB recordings in turn,
// as edgepipe bench publishes them: {"ts": <epoch ms>, "value": <number>} on
// bench/<stream>-<copy>/reading, 5 minutes apart per sensor.
func chainPayloads(b *testing.B, n int) []chainMessage {
	streams, err := datasets.ReadNABDir("")
	if err != nil {
		b.Fatal(err)
	}
	const sensors = 100
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	topics := make([]string, sensors)
	for i := range topics {
		topics[i] = fmt.Sprintf("bench/%s-%03d/reading", streams[i%len(streams)].Name, i/len(streams))
	}
	msgs := make([]chainMessage, n)
	for k := range msgs {
		i, j := k%sensors, k/sensors
		v := streams[i%len(streams)].Values
		p := append([]byte(`{"ts":`), strconv.FormatInt(epoch.Add(time.Duration(j)*5*time.Minute).UnixMilli(), 10)...)
		p = append(p, `,"value":`...)
		p = strconv.AppendFloat(p, v[(i*37+j)%len(v)], 'g', -1, 64)
		msgs[k] = chainMessage{topic: topics[i], payload: append(p, '}')}
	}
	return msgs
}

// BenchmarkChain runs b.N readings through the demo chain: "operators" ends in a store
// that only acks (decode … infer and the engine's channels), "sqlite" in the SQLite
// store with summaries (synchronous FULL, the default batch), "sqlite-normal" the same
// with synchronous NORMAL (the fsync per commit costs wall time, little CPU). Every
// reading must be acked. Run it with a fixed count, e.g. -benchtime 100000x -benchmem.
func BenchmarkChain(b *testing.B) {
	configs, err := filepath.Abs("../configs")
	if err != nil {
		b.Fatal(err)
	}
	for _, store := range []struct{ name, yaml string }{
		{"operators", "  type: " + chainDiscard + "\n"},
		{"sqlite", "  type: sqlite\n  path: %s\n"},
		{"sqlite-normal", "  type: sqlite\n  synchronous: NORMAL\n  path: %s\n"},
	} {
		b.Run(store.name, func(b *testing.B) {
			chainMessages = chainPayloads(b, b.N)
			chainAcked.Store(0)
			yaml := chainConfig + store.yaml
			if strings.HasPrefix(store.name, "sqlite") {
				yaml = fmt.Sprintf(yaml, filepath.Join(b.TempDir(), "chain.db"))
			}
			cfg, err := pipeline.Parse("chain.yaml", []byte(yaml))
			if err != nil {
				b.Fatal(err)
			}
			metrics := pipeline.NewMetrics()
			p, err := pipeline.Build(cfg, pipeline.Env{Dir: configs, Metrics: metrics, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			if err := p.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/reading")
			if got := chainAcked.Load(); got != int64(b.N) {
				b.Fatalf("%d of %d readings acked", got, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
			var m dto.Metric
			if err := metrics.CommitSeconds.Write(&m); err != nil {
				b.Fatal(err)
			}
			if c := m.GetHistogram().GetSampleCount(); c > 0 {
				b.ReportMetric(float64(b.N)/float64(c), "readings/commit")
			}
		})
	}
}

// cpuTime returns the CPU time (user + system) the process has used so far: on a shared
// machine the CPU time per reading varies much less than the wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
