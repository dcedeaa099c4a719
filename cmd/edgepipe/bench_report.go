package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// benchReport is what `edgepipe bench` measured, printed as a table (print) or as JSON
// (--json, the field tags). The measured window starts when the warmup ends and ends
// at the last commit; "readings" are sensor messages.
type benchReport struct {
	// Config is the pipeline file ("" = the embedded configs/demo.yaml); MQTT and NATS
	// the servers' URLs, with MQTTEmbedded and NATSEmbedded set for a server bench
	// started in its own process.
	Config       string `json:"config"`
	MQTT         string `json:"mqtt"`
	MQTTEmbedded bool   `json:"mqtt_embedded"`
	NATS         string `json:"nats"`
	NATSEmbedded bool   `json:"nats_embedded"`
	QoS          int    `json:"qos"`
	Sensors      int    `json:"sensors"`
	// TargetRate is the asked rate in readings/s, 0 = flat out.
	TargetRate    float64 `json:"target_rate"`
	WarmupSeconds float64 `json:"warmup_seconds"`
	// Interrupted is set when SIGINT or SIGTERM stopped the publisher early.
	Interrupted bool `json:"interrupted"`

	// Published are the readings the broker acknowledged (QoS 1) or that were sent
	// (QoS 0), warmup included; Committed those edgepipe stored or dead-lettered (each
	// once); DeadLetters the dead-lettered ones; Lost = Published − Committed;
	// Duplicates the redeliveries edgepipe found already stored.
	Published   int64 `json:"published"`
	Committed   int64 `json:"committed"`
	DeadLetters int64 `json:"dead_letters"`
	Lost        int64 `json:"lost"`
	Duplicates  int64 `json:"duplicates"`

	// MeasuredReadings are the readings committed in the measured window, of
	// MeasuredSeconds; ReadingsPerSecond = MeasuredReadings / MeasuredSeconds, the
	// sustained end-to-end rate. PublishedPerSecond is the publisher's rate over the
	// window (up to its last publish).
	MeasuredReadings   int64   `json:"measured_readings"`
	MeasuredSeconds    float64 `json:"measured_seconds"`
	ReadingsPerSecond  float64 `json:"readings_per_second"`
	PublishedPerSecond float64 `json:"published_per_second"`

	// Latency is publish → commit of the readings published in the measured window.
	Latency benchLatency `json:"latency_ms"`

	// CPUSeconds is the edgepipe process's CPU time (user + system) in the measured
	// window, CPUSecondsPerMillion that per million MeasuredReadings.
	CPUSeconds           float64 `json:"cpu_seconds"`
	CPUSecondsPerMillion float64 `json:"cpu_seconds_per_million"`
	// PeakRSSBytes is the edgepipe process's peak resident set size over its whole life.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`

	// Batches are the inference batches run in the measured window by size (rows),
	// BatchMean their mean size.
	Batches   []benchBucket `json:"batch_sizes"`
	BatchMean float64       `json:"batch_mean"`

	// BytesIn are the published readings' MQTT payload bytes; BytesOut the payload
	// bytes of the summaries the cloud-side subscriber received over NATS (Summaries
	// written by edgepipe, SummariesReceived, SummaryDuplicates by Nats-Msg-Id).
	BytesIn           int64 `json:"bytes_in"`
	BytesOut          int64 `json:"bytes_out"`
	Summaries         int64 `json:"summaries"`
	SummariesReceived int64 `json:"summaries_received"`
	SummaryDuplicates int64 `json:"summary_duplicates"`
}

// benchLatency are latency percentiles in milliseconds (nearest rank) over Samples
// readings.
type benchLatency struct {
	P50     float64 `json:"p50"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
	Samples int     `json:"samples"`
}

// writeJSON writes the report as one indented JSON object.
func (r *benchReport) writeJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// print writes the report as a table.
func (r *benchReport) print(w io.Writer) {
	rate := "flat out"
	if r.TargetRate > 0 {
		rate = fmt.Sprintf("%s readings/s", thousands(r.TargetRate))
	}
	fmt.Fprintf(w, "\nedgepipe bench: QoS %d, %d sensors, %s, %.1f s measured after a %.1f s warmup\n",
		r.QoS, r.Sensors, rate, r.MeasuredSeconds, r.WarmupSeconds)
	if r.Interrupted {
		fmt.Fprintln(w, "  (interrupted: the publisher was stopped early; what it published was drained and is reported)")
	}
	config := r.Config
	if config == "" {
		config = "configs/demo.yaml (embedded)"
	}
	embedded := map[bool]string{true: " (embedded, in the bench process)"}
	servers := "MQTT " + r.MQTT + embedded[r.MQTTEmbedded] + ", NATS " + r.NATS + embedded[r.NATSEmbedded]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  pipeline\t%s\n", config)
	fmt.Fprintf(tw, "  servers\t%s\n", servers)
	fmt.Fprintf(tw, "  readings\tpublished %s, committed %s, lost %d, duplicates %d, dead-lettered %d\n",
		grouped(r.Published), grouped(r.Committed), r.Lost, r.Duplicates, r.DeadLetters)
	fmt.Fprintf(tw, "  throughput\t%s readings/s sustained, published → committed (%s readings; published %s/s)\n",
		thousands(r.ReadingsPerSecond), grouped(r.MeasuredReadings), thousands(r.PublishedPerSecond))
	fmt.Fprintf(tw, "  latency\tp50 %.1f ms, p99 %.1f ms, max %.1f ms (publish → commit, %s readings)\n",
		r.Latency.P50, r.Latency.P99, r.Latency.Max, grouped(int64(r.Latency.Samples)))
	fmt.Fprintf(tw, "  CPU\t%.2f s per million readings (edgepipe: %.2f s in %.1f s)\n", r.CPUSecondsPerMillion, r.CPUSeconds, r.MeasuredSeconds)
	fmt.Fprintf(tw, "  memory\tpeak RSS %.1f MiB (edgepipe)\n", float64(r.PeakRSSBytes)/(1<<20))
	fmt.Fprintf(tw, "  batches\tmean %.1f rows: %s\n", r.BatchMean, batchShares(r.Batches))
	ratio := ""
	if r.BytesOut > 0 {
		ratio = fmt.Sprintf(": %.0f× less", float64(r.BytesIn)/float64(r.BytesOut))
	}
	fmt.Fprintf(tw, "  bytes\tin %s (MQTT payloads), out %s (NATS payloads of %d summaries, %d received, %d duplicates)%s\n",
		grouped(r.BytesIn), grouped(r.BytesOut), r.Summaries, r.SummariesReceived, r.SummaryDuplicates, ratio)
	tw.Flush()
}

// batchShares describes a batch size distribution as the share of batches per size
// range, "1 3%, 2 <1%, 3–4 2%, …, 33–64 90%", leaving out empty buckets.
func batchShares(buckets []benchBucket) string {
	var total uint64
	for _, b := range buckets {
		total += b.Count
	}
	if total == 0 {
		return "none"
	}
	var parts []string
	prev := 0.0
	for _, b := range buckets {
		le, _ := strconv.ParseFloat(b.Le, 64)
		label := b.Le
		switch {
		case b.Le == "+Inf":
			label = ">" + strconv.FormatFloat(prev, 'g', -1, 64)
		case le-prev > 1:
			label = strconv.FormatFloat(prev+1, 'g', -1, 64) + "–" + b.Le
		}
		switch share := 100 * float64(b.Count) / float64(total); {
		case b.Count == 0:
		case share < 0.5:
			parts = append(parts, label+" <1%")
		default:
			parts = append(parts, fmt.Sprintf("%s %.0f%%", label, share))
		}
		prev = le
	}
	return strings.Join(parts, ", ")
}

// thousands formats v ≥ 0 rounded to an integer with commas between thousands
// (27,081).
func thousands(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// grouped formats n ≥ 0 with commas between thousands.
func grouped(n int64) string { return thousands(float64(n)) }
