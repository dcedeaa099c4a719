package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"text/tabwriter"
	"time"

	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

type reportInput struct {
	streams   []datasets.Stream
	dbPath    string
	modelPath string
	trained   bool
	model     *models.Dense
	published int
	bytesIn   int64
	counts    *demoCounts
	lat       *latencies
	elapsed   time.Duration
	// interrupted is true when the replay was stopped by SIGINT or SIGTERM.
	interrupted bool
}

// streamHits is how one stream's detections compare with its labelled anomaly windows.
type streamHits struct {
	name         string
	rows         int
	windows, hit int
	detections   int
	outside      int
}

type demoReport struct {
	in      reportInput
	db      store.Counts
	streams []streamHits
	p50     time.Duration
	p99     time.Duration
	span    time.Duration
	// lost counts published readings that were never committed.
	lost int64
	// plots is the index.html of the PNG plots of every stream (writePlotReport); "" when
	// nothing was stored.
	plots string
}

func buildReport(ctx context.Context, in reportInput) (*demoReport, error) {
	db, err := store.Open(in.dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	counts, err := db.Counts(ctx)
	if err != nil {
		return nil, err
	}
	labels, err := datasets.ReadNABLabels("")
	if err != nil {
		return nil, err
	}
	// NAB's labels are keyed "<category>/<file>.csv"; a --data folder has no category,
	// so a stream's windows are found by file name.
	byFile := map[string][]datasets.Window{}
	for k, ws := range labels {
		byFile[path.Base(k)] = ws
	}
	r := &demoReport{in: in, db: counts, p50: in.lat.percentile(50), p99: in.lat.percentile(99), span: in.lat.span()}
	for _, s := range in.streams {
		windows := byFile[s.Name+".csv"]
		h := streamHits{name: s.Name, rows: len(s.Values), windows: len(windows)}
		// NAB does not score the probationary period: detections there are not counted.
		var scoredFrom time.Time
		if p := datasets.Probationary(len(s.Times)); p < len(s.Times) {
			scoredFrom = s.Times[p]
		}
		hit := make([]bool, len(windows))
		err := db.Inferences(ctx, store.QueryOptions{Device: s.Name, Since: scoredFrom}, func(inf store.Inference) error {
			if !inf.Anomaly {
				return nil
			}
			h.detections++
			for i, w := range windows {
				if !inf.Time.Before(w.Start) && !inf.Time.After(w.End) {
					hit[i] = true
					return nil
				}
			}
			h.outside++
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, x := range hit {
			if x {
				h.hit++
			}
		}
		r.streams = append(r.streams, h)
	}
	return r, nil
}

func (r *demoReport) print(w io.Writer) {
	c := r.in.counts
	meta := r.in.model.Meta()
	how := "loaded"
	if r.in.trained {
		how = "trained now"
	}
	ratio := 0.0
	if c.bytesOut.Load() > 0 {
		ratio = float64(r.in.bytesIn) / float64(c.bytesOut.Load())
	}
	tput := 0.0
	if r.span > 0 {
		tput = float64(c.committed()) / r.span.Seconds()
	}
	fmt.Fprintln(w, "\nedgepipe demo report")
	if r.in.interrupted {
		fmt.Fprintln(w, "  (interrupted: the replay was stopped early; what was published was drained and is reported)")
	}
	if r.lost > 0 {
		fmt.Fprintf(w, "  LOST: %d published readings were never stored\n", r.lost)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  file\t%s\n", r.in.dbPath)
	if r.plots != "" {
		fmt.Fprintf(tw, "  plots\t%s (values, scores, threshold, detections and NAB's labelled windows of every stream)\n", r.plots)
	}
	fmt.Fprintf(tw, "  model\t%s version %s (%s: %s), window %d\n", meta.Name, meta.Version, how, r.in.modelPath, meta.Window)
	fmt.Fprintf(tw, "  readings\tpublished %d, stored %d, dead-lettered %d", r.in.published, c.stored.Load(), c.dead.Load())
	if n := c.redelivered.Load(); n > 0 {
		fmt.Fprintf(tw, ", already stored by an earlier run %d", n)
	}
	fmt.Fprintf(tw, "\n  summaries\tproduced %d (covering %d readings), received by the subscriber %d (duplicates %d), left in the outbox %d\n",
		c.summaries.Load(), c.summarized.Load(), c.received.Load(), c.duplicates.Load(), r.db.Outbox)
	fmt.Fprintf(tw, "  database\t%d readings, %d dead letters, %d summaries in all\n", r.db.Inferences, r.db.DeadLetters, r.db.Summaries)
	fmt.Fprintf(tw, "  bytes\tin over MQTT %d (payloads), out over NATS %d (payloads): %.1f× less\n", r.in.bytesIn, c.bytesOut.Load(), ratio)
	fmt.Fprintf(tw, "  throughput\t%.0f readings/s (first publish to last commit: %.1f s)\n", tput, r.span.Seconds())
	fmt.Fprintf(tw, "  latency\tp50 %.1f ms, p99 %.1f ms (publish → commit)\n", ms(r.p50), ms(r.p99))
	tw.Flush()
	fmt.Fprintln(w, "\n  anomaly windows (NAB labels; detections after each stream's probationary period)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  stream\trows\twindows\thit\tdetections\toutside windows\t")
	var tw0, th, td, to int
	for _, s := range r.streams {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t\n", s.name, s.rows, s.windows, s.hit, s.detections, s.outside)
		tw0, th, td, to = tw0+s.windows, th+s.hit, td+s.detections, to+s.outside
	}
	fmt.Fprintf(tw, "  total\t\t%d\t%d\t%d\t%d\t\n", tw0, th, td, to)
	tw.Flush()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
