package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
)

// reportT0 is the first reading's time in the report tests' database.
var reportT0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// writeReportDB writes a store database of fields "temp", "hum" with two devices of n
// readings a minute apart: "room/1" (scores 0.1 but 2.0 — detections — at readings
// n/2…n/2+19; the first 3 unscored) and "hall" (scores 0.05, never flagged). It returns its path.
func writeReportDB(t *testing.T, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "edge.db")
	env := &pipeline.Env{Site: "t", Fields: []string{"temp", "hum"}, Metrics: pipeline.NewMetrics()}
	sink, err := store.New(store.Options{Path: path, Batch: 512, Synchronous: store.SyncNormal, BusyTimeout: store.DefaultBusyTimeout}, env)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan *pipeline.Record, 2*n)
	for i := range n {
		ts := reportT0.Add(time.Duration(i) * time.Minute)
		for _, dev := range []string{"room/1", "hall"} {
			r := pipeline.NewRecord("sensors/"+dev, []byte(`{}`), ts, pipeline.NewAck(nil))
			r.Device, r.Time, r.Values = dev, ts, []float64{20 + math.Sin(float64(i)/50), 50 + 5*math.Cos(float64(i)/30)}
			r.Score, r.Model = 0.05, "m1"
			if dev == "room/1" {
				r.Score = 0.1
				if i >= n/2 && i < n/2+20 {
					r.Score, r.Anomaly = 2, true
				}
			}
			if i < 3 {
				r.Score, r.Model = math.NaN(), ""
			}
			in <- r
		}
	}
	close(in)
	if err := sink.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeReportModel saves an autoencoder over temp and hum whose threshold is 0.5 for
// "room/1" and 0.3 for every other device.
func writeReportModel(t *testing.T, dir string) string {
	t.Helper()
	m, err := models.NewDense([]int{4, 2, 4}, []models.Activation{"tanh", "linear"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.SetMeta(models.Meta{Name: "t", Kind: models.KindAutoencoder, Features: []string{"temp", "hum"}, Window: 2,
		Thresholds: map[string]float64{"room/1": 0.5, "": 0.3}})
	path := filepath.Join(dir, "t.model")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// pixels counts the pixels of img in rows [y0, y1) for which match is true, and the
// most in any one row.
func pixels(img image.Image, y0, y1 int, match func(r, g, b uint8) bool) (n, bestRow int) {
	b := img.Bounds()
	for y := y0; y < y1; y++ {
		row := 0
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if match(c.R, c.G, c.B) {
				row++
			}
		}
		n, bestRow = n+row, max(bestRow, row)
	}
	return n, bestRow
}

func exactly(want color.RGBA) func(r, g, b uint8) bool {
	return func(r, g, b uint8) bool { return r == want.R && g == want.G && b == want.B }
}

// shaded matches the labelled-window yellow over white: strong red, green a little
// below, blue well below.
func shaded(r, g, b uint8) bool { return r > 245 && g > 225 && g < 250 && b > 150 && b < 215 }

func TestReportDrawsEveryDevice(t *testing.T) {
	dir := t.TempDir()
	const n = 3000
	db := writeReportDB(t, dir, n)
	mid := reportT0.Add(n / 2 * time.Minute)
	labels := filepath.Join(dir, "windows.json")
	// One window over room/1's detections, keyed by its device id; none for hall.
	js := `{"cat/other.csv": [], "room/1": [["` + mid.Add(-time.Hour).Format(datasets.NABTimeLayout) + `", "` + mid.Add(2*time.Hour).Format(datasets.NABTimeLayout) + `"]]}`
	if err := os.WriteFile(labels, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report")
	cmd := reportCmd()
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetArgs([]string{"--db", db, "--out", out, "--model", writeReportModel(t, dir), "--labels", labels, "--width", "900", "--panel-height", "200"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	hallPNG, roomPNG, index := filepath.Join(out, "hall.png"), filepath.Join(out, "room_1.png"), filepath.Join(out, "index.html")
	if want := hallPNG + "\n" + roomPNG + "\n2 plots: " + index + "\n"; stdout.String() != want {
		t.Fatalf("stdout %q, want %q", stdout.String(), want)
	}
	html, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`<img src="room_1.png"`, `<img src="hall.png"`, "room/1</a></td><td>3000</td><td>2997</td><td>20</td><td>1</td><td>0.5</td><td>m1</td>",
		"hall</a></td><td>3000</td><td>2997</td><td>0</td><td>0</td><td>0.3</td>"} {
		if !strings.Contains(string(html), s) {
			t.Errorf("index.html lacks %q:\n%s", s, html)
		}
	}

	room, hall := readPNG(t, roomPNG), readPNG(t, hallPNG)
	for _, img := range []image.Image{room, hall} {
		// Three panels (temp, hum, scores) of 200 pixels.
		if b := img.Bounds(); b.Dx() != 900 || b.Dy() != 600 {
			t.Fatalf("picture %v, want 900 × 600", b)
		}
		// The values are drawn in the two upper panels.
		for p := range 2 {
			if n, _ := pixels(img, p*200, (p+1)*200, exactly(valueColor)); n < 200 {
				t.Errorf("panel %d: %d pixels of the value line", p, n)
			}
		}
	}
	// The threshold is a red line across the score panel (the bottom third) only.
	for name, img := range map[string]image.Image{"room/1": room, "hall": hall} {
		if n, _ := pixels(img, 0, 400, exactly(thresholdColor)); n != 0 {
			t.Errorf("%s: %d threshold pixels in the value panels", name, n)
		}
		if _, row := pixels(img, 400, 600, exactly(thresholdColor)); row < 700 {
			t.Errorf("%s: the threshold line is %d pixels long, want most of the 900-pixel width", name, row)
		}
	}
	// room/1 has 20 detections (dots on every panel) inside its shaded window; hall has neither.
	for p := range 3 {
		if n, _ := pixels(room, p*200, (p+1)*200, exactly(detectionColor)); n < 10 {
			t.Errorf("room/1 panel %d: %d detection pixels", p, n)
		}
		if n, _ := pixels(room, p*200, (p+1)*200, shaded); n < 500 {
			t.Errorf("room/1 panel %d: %d shaded pixels", p, n)
		}
	}
	if n, _ := pixels(hall, 0, 600, exactly(detectionColor)); n != 0 {
		t.Errorf("hall: %d detection pixels", n)
	}
	if n, _ := pixels(hall, 0, 600, shaded); n != 0 {
		t.Errorf("hall: %d shaded pixels", n)
	}

	// Without --model there is no threshold line; --device and --until select readings,
	// --fields the panels.
	out2 := filepath.Join(dir, "report2")
	r, err := writePlotReport(context.Background(), reportOptions{db: db, out: out2, device: "hall", until: mid.Format(time.RFC3339), fields: []string{"hum"}, width: 400, panelHeight: 150})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.plots) != 1 || r.plots[0].device != "hall" || r.plots[0].readings != n/2 || !math.IsNaN(r.plots[0].threshold) {
		t.Fatalf("plots %+v, want hall's first %d readings, no threshold", r.plots, n/2)
	}
	img := readPNG(t, r.plots[0].file)
	if b := img.Bounds(); b.Dx() != 400 || b.Dy() != 300 {
		t.Fatalf("picture %v, want 400 × 300 (hum, scores)", b)
	}
	if n, _ := pixels(img, 0, 300, exactly(thresholdColor)); n != 0 {
		t.Errorf("%d threshold pixels without a model", n)
	}
}

func TestReportRejects(t *testing.T) {
	dir := t.TempDir()
	db := writeReportDB(t, dir, 10)
	occupancy := "../../configs/occupancy.model"
	for _, c := range []struct {
		o    reportOptions
		want string
	}{
		{reportOptions{db: filepath.Join(dir, "none.db")}, "none.db"},
		{reportOptions{db: db, device: "nobody"}, "no stored readings match"},
		{reportOptions{db: db, since: "yesterday"}, "--since"},
		{reportOptions{db: db, model: occupancy}, "a classifier has no anomaly thresholds"},
		{reportOptions{db: db, labels: filepath.Join(dir, "none.json")}, "--labels"},
		{reportOptions{db: db, fields: []string{"hum", "co2"}}, `--fields: "co2" is not a stored field (temp, hum)`},
		{reportOptions{db: db, width: 50, panelHeight: 300}, "want at least 200 × 100"},
	} {
		c.o.out = filepath.Join(dir, "out")
		if c.o.width == 0 {
			c.o.width, c.o.panelHeight = 400, 150
		}
		if _, err := writePlotReport(context.Background(), c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want one containing %q", c.o, err, c.want)
		}
	}
}

func TestWindowsFor(t *testing.T) {
	w1 := []datasets.Window{{Start: reportT0, End: reportT0.Add(time.Hour)}}
	w2 := []datasets.Window{{Start: reportT0.Add(time.Hour), End: reportT0.Add(2 * time.Hour)}}
	labels := map[string][]datasets.Window{"realKnownCause/nyc_taxi.csv": w1, "a/dup.csv": w1, "b/dup.csv": w2, "dup": w2}
	for _, c := range []struct {
		device string
		want   []datasets.Window
	}{{"nyc_taxi", w1}, {"dup", w2}, {"other", nil}} {
		got, err := windowsFor(labels, c.device)
		if err != nil || len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("%s: %v, %v; want %v", c.device, got, err, c.want)
		}
	}
	delete(labels, "dup")
	if _, err := windowsFor(labels, "dup"); err == nil || !strings.Contains(err.Error(), "a/dup.csv, b/dup.csv") {
		t.Errorf("two keys ending in dup.csv: %v", err)
	}
}

func TestFileNames(t *testing.T) {
	f := fileNames{}
	for _, c := range [][2]string{{"room/1", "room_1.png"}, {"room 1", "room_1-2.png"}, {"../x", "x.png"}, {"***", "device.png"}, {"a.b-c_d", "a.b-c_d.png"}} {
		if got := f.name(c[0]); got != c[1] {
			t.Errorf("%q → %q, want %q", c[0], got, c[1])
		}
	}
}

func TestPlotFields(t *testing.T) {
	stored := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	if cols, err := plotFields(stored, nil); err != nil || len(cols) != maxPlotFields || cols[maxPlotFields-1] != maxPlotFields-1 {
		t.Errorf("default: %v, %v; want the first %d", cols, err, maxPlotFields)
	}
	if cols, err := plotFields(stored, []string{"h", "b"}); err != nil || len(cols) != 2 || cols[0] != 7 || cols[1] != 1 {
		t.Errorf("h, b: %v, %v; want [7 1]", cols, err)
	}
	if cols, err := plotFields(stored[:2], nil); err != nil || len(cols) != 2 {
		t.Errorf("two stored: %v, %v", cols, err)
	}
}
