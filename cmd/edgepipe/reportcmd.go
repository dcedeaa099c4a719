package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

// reportOptions are the flags of `edgepipe report`.
type reportOptions struct {
	db, out string
	// model is a model file whose thresholds are drawn ("" = none).
	model string
	// labels is a NAB combined_windows.json file, "nab" for the shipped one, "" for none.
	labels       string
	device       string
	since, until string
	// fields are the fields to draw (nil: the first maxPlotFields stored fields).
	fields []string
	// width and panelHeight are the pictures' width and each panel's height, in pixels.
	width, panelHeight int
}

// The default size of a report's pictures: width, and height of each panel, in pixels.
const (
	defaultPlotWidth   = 1600
	defaultPanelHeight = 320
)

// maxPlotFields is how many fields a picture draws without --fields: the first ones (a
// pipeline with a vector field has hundreds).
const maxPlotFields = 6

func reportCmd() *cobra.Command {
	o := reportOptions{width: defaultPlotWidth, panelHeight: defaultPanelHeight}
	cmd := &cobra.Command{
		Use:   "report --db PATH --out DIR [--model FILE] [--labels FILE|nab] [--device D] [--since T] [--until T]",
		Short: "Draw each device's stored values and anomaly scores over time as PNG plots",
		Long: `report draws, for each device of a store database, one PNG (gonum/plot): a panel per field
with its values over time and, when readings were scored, a panel of the anomaly scores
(log scale when all are positive) with the device's threshold from --model. Detections
(readings flagged as anomalies) are dots; labelled anomaly windows from --labels (NAB's
combined_windows.json format; "nab" = the shipped NAB labels, matched to a device by the
recording's file name) are shaded. Long series are reduced to the lowest and highest reading
per pixel column, so every spike shows and a plot stays small and quick. It writes
<device>.png and index.html (the pictures with their figures) into --out. Without --fields
it draws the first ` + fmt.Sprint(maxPlotFields) + ` fields.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := writePlotReport(context.Background(), o)
			if err != nil {
				return err
			}
			for _, p := range r.plots {
				fmt.Fprintln(cmd.OutOrStdout(), p.file)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d plots: %s\n", len(r.plots), r.index)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.db, "db", "", "SQLite file written by a pipeline")
	f.StringVar(&o.out, "out", "", "folder for the PNG files and index.html (created when missing)")
	f.StringVar(&o.model, "model", "", "model file whose per-device anomaly thresholds are drawn")
	f.StringVar(&o.labels, "labels", "", `NAB combined_windows.json whose windows are shaded, or "nab" for the shipped NAB labels`)
	f.StringVar(&o.device, "device", "", "only this device")
	f.StringVar(&o.since, "since", "", "only readings at or after this time (RFC 3339, a UTC date 2006-01-02, or a duration back from now such as 1h)")
	f.StringVar(&o.until, "until", "", "only readings before this time (RFC 3339, or a duration back from now)")
	f.StringSliceVar(&o.fields, "fields", nil, fmt.Sprintf("fields to draw, one panel each (default: the first %d stored fields)", maxPlotFields))
	f.IntVar(&o.width, "width", o.width, "picture width in pixels")
	f.IntVar(&o.panelHeight, "panel-height", o.panelHeight, "height of each panel in pixels (one per field, one for the scores)")
	cmd.MarkFlagRequired("db")
	cmd.MarkFlagRequired("out")
	return cmd
}

// plotReport is what writePlotReport wrote.
type plotReport struct {
	// index is the path of index.html.
	index string
	plots []plotEntry
}

// plotEntry is one device's picture and its figures.
type plotEntry struct {
	device, file string // file is the PNG's path
	readings     int
	scored       int
	anomalies    int
	windows      int
	// threshold is the device's threshold drawn (NaN: none).
	threshold float64
	// models are the versions of the models that scored the readings, most readings first.
	models []string
}

// writePlotReport reads the readings o selects from o.db and writes one PNG per device
// (devicePlot.draw, o.width × o.panelHeight pixels per panel) and index.html into o.out.
// It reads the database twice: once for each device's time span and count, then device by
// device to fill its decimated series, so memory does not grow with the readings. Errors:
// bad flags, a database or model or labels file that cannot be read, no readings selected,
// a failed write.
func writePlotReport(ctx context.Context, o reportOptions) (*plotReport, error) {
	q := store.QueryOptions{Device: o.device}
	var err error
	if q.Since, err = parseTimeFlag("--since", o.since); err != nil {
		return nil, err
	}
	if q.Until, err = parseTimeFlag("--until", o.until); err != nil {
		return nil, err
	}
	var meta *models.Meta
	if o.model != "" {
		m, err := models.Load(o.model)
		if err != nil {
			return nil, err
		}
		mm := m.Meta()
		if mm.Kind != models.KindAutoencoder {
			return nil, fmt.Errorf("--model %s: a %s has no anomaly thresholds", o.model, mm.Kind)
		}
		meta = &mm
	}
	var labels map[string][]datasets.Window
	switch o.labels {
	case "":
	case "nab":
		labels, err = datasets.ReadNABLabels("")
	default:
		labels, err = datasets.ReadNABLabels(o.labels)
	}
	if err != nil {
		return nil, fmt.Errorf("--labels: %w", err)
	}

	db, err := store.Open(o.db)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	stored, err := db.Fields(ctx)
	if err != nil {
		return nil, err
	}
	cols, err := plotFields(stored, o.fields)
	if err != nil {
		return nil, err
	}
	fields := make([]string, len(cols))
	for i, c := range cols {
		fields[i] = stored[c]
	}
	spans, total, err := deviceSpans(ctx, db, q)
	if err != nil {
		return nil, err
	}
	if len(spans) == 0 {
		return nil, fmt.Errorf("%s: no stored readings match", o.db)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, err
	}

	r := &plotReport{index: filepath.Join(o.out, "index.html")}
	bar := newProgress(total, "plotting")
	defer bar.finish()
	// One pass over the selected readings feeds every device's series (the store's key
	// is (ts, device, vhash): a query per device would scan the others' readings too).
	series := make(map[string]*deviceSeries, len(spans))
	for _, sp := range spans {
		series[sp.device] = newDeviceSeries(sp.device, cols, sp.from, sp.to, o.width)
	}
	done := 0
	err = db.Inferences(ctx, q, func(inf store.Inference) error {
		if s := series[inf.Device]; s != nil { // nil: stored after deviceSpans read
			s.add(inf)
		}
		if done++; done%4096 == 0 {
			bar.update(done, "plotting")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	files := fileNames{}
	for _, sp := range spans {
		s := series[sp.device]
		windows, err := windowsFor(labels, sp.device)
		if err != nil {
			return nil, err
		}
		th := math.NaN()
		if meta != nil {
			th = meta.ThresholdFor(sp.device)
		}
		e := plotEntry{device: sp.device, file: filepath.Join(o.out, files.name(sp.device)), readings: s.readings,
			scored: s.scored, anomalies: s.anomalies, windows: len(windows), threshold: th, models: byCount(s.models)}
		p := devicePlot{series: s, fields: fields, storedFields: len(stored), threshold: th, windows: windows, width: o.width, panelHeight: o.panelHeight}
		if err := p.draw(e.file); err != nil {
			return nil, err
		}
		r.plots = append(r.plots, e)
	}
	bar.update(done, "plotting")
	if err := writePlotIndex(r, o, meta); err != nil {
		return nil, err
	}
	return r, nil
}

// plotFields returns the indices in stored of the fields named by want, in want's order,
// or of the first maxPlotFields stored fields when want is empty. It returns an error
// naming a field that is not stored.
func plotFields(stored, want []string) ([]int, error) {
	var cols []int
	if len(want) == 0 {
		for i := range min(len(stored), maxPlotFields) {
			cols = append(cols, i)
		}
		return cols, nil
	}
	for _, name := range want {
		i := slices.Index(stored, name)
		if i < 0 {
			return nil, fmt.Errorf("--fields: %q is not a stored field (%s)", name, strings.Join(stored, ", "))
		}
		cols = append(cols, i)
	}
	return cols, nil
}

// deviceSpan is one device's selected readings: their event-time span (ns) and count.
type deviceSpan struct {
	device   string
	from, to int64
	n        int
}

// deviceSpans returns the span of every device with readings selected by q, sorted by
// device, and the number of readings in all.
func deviceSpans(ctx context.Context, db *store.DB, q store.QueryOptions) ([]deviceSpan, int, error) {
	byDevice := map[string]*deviceSpan{}
	total := 0
	err := db.Inferences(ctx, q, func(inf store.Inference) error {
		t := inf.Time.UnixNano()
		total++
		s, ok := byDevice[inf.Device]
		if !ok {
			byDevice[inf.Device] = &deviceSpan{device: inf.Device, from: t, to: t, n: 1}
			return nil
		}
		s.from, s.to, s.n = min(s.from, t), max(s.to, t), s.n+1
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	out := make([]deviceSpan, 0, len(byDevice))
	for _, s := range byDevice {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].device < out[j].device })
	return out, total, nil
}

// windowsFor returns the labelled windows of device: those of the label key equal to
// the device id, else of the one key whose file name is <device>.csv (NAB keys are
// "<category>/<file>.csv"); none when no key matches. It returns an error when several
// keys match by file name.
func windowsFor(labels map[string][]datasets.Window, device string) ([]datasets.Window, error) {
	if ws, ok := labels[device]; ok {
		return ws, nil
	}
	var found []string
	for k := range labels {
		if path.Base(k) == device+".csv" {
			found = append(found, k)
		}
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return labels[found[0]], nil
	}
	sort.Strings(found)
	return nil, fmt.Errorf("--labels: device %s matches several label keys (%s)", device, strings.Join(found, ", "))
}

// byCount returns the keys of counts, largest count first (ties by key).
func byCount(counts map[string]int) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// unsafeFileChars are the characters a device id may hold that a file name should not.
var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileNames gives each device a distinct PNG file name made of its id's safe characters
// ("sensors/a b" → "sensors_a_b.png"); a name already given gets a numbered suffix.
type fileNames map[string]bool

func (f fileNames) name(device string) string {
	base := strings.Trim(unsafeFileChars.ReplaceAllString(device, "_"), "._")
	if base == "" {
		base = "device"
	}
	name := base + ".png"
	for i := 2; f[name]; i++ {
		name = fmt.Sprintf("%s-%d.png", base, i)
	}
	f[name] = true
	return name
}
