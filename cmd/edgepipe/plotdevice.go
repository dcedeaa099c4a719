package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/edgepipe/edgepipe/datasets"
)

// The plots' colours. thresholdColor is opaque and used by nothing else, so a test can
// find the threshold line by its pixels.
var (
	valueColor     = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	scoreColor     = color.RGBA{R: 90, G: 90, B: 90, A: 255}
	thresholdColor = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	detectionColor = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	windowColor    = color.NRGBA{R: 255, G: 200, B: 0, A: 70}
)

// plotDPI is the resolution the plots are drawn at: text and line widths given in points
// are this many pixels per inch (72 points).
const plotDPI = 96

// devicePlot is what one device's picture shows.
type devicePlot struct {
	series *deviceSeries
	// fields name the series' value fields, one panel each; storedFields is how many
	// fields the database has.
	fields       []string
	storedFields int
	// threshold is the device's anomaly threshold on the score; NaN or +Inf draws none.
	threshold float64
	// windows are the labelled anomaly windows to shade.
	windows []datasets.Window
	// width and panelHeight are the picture's width and each panel's height in pixels.
	width, panelHeight int
}

// draw writes the picture as a PNG file at path: width × (panels × panelHeight) pixels,
// one panel per value field and, when any reading was scored, one for the scores (log
// scale when every score and the threshold are positive), all over the same time axis
// (UTC). Labelled windows are shaded on every panel, detections marked on every panel,
// the threshold drawn on the score panel. Errors: a bad size, or a failed write.
func (d devicePlot) draw(path string) error {
	if d.width < 200 || d.panelHeight < 100 {
		return fmt.Errorf("plot size %d × %d pixels per panel: want at least 200 × 100", d.width, d.panelHeight)
	}
	s := d.series
	from, to := unixSeconds(s.from), unixSeconds(s.to)
	if to <= from { // one instant: a minute around it
		from, to = from-30, to+30
	}
	detScores, detValues := s.detectionXYs()
	var spans windowSpans
	for _, w := range d.windows {
		spans = append(spans, [2]float64{unixSeconds(w.Start.UnixNano()), unixSeconds(w.End.UnixNano())})
	}

	var panels []*plot.Plot
	for i, name := range d.fields {
		p, err := panel(name, spans, s.values[i].xys(), valueColor, detValues[i])
		if err != nil {
			return err
		}
		panels = append(panels, p)
	}
	if s.scored > 0 {
		p, err := panel("score", spans, s.scores.xys(), scoreColor, detScores)
		if err != nil {
			return err
		}
		if th := d.threshold; !math.IsNaN(th) && !math.IsInf(th, 0) {
			l, err := plotter.NewLine(plotter.XYs{{X: from, Y: th}, {X: to, Y: th}})
			if err != nil {
				return err
			}
			l.Color, l.Width = thresholdColor, vg.Points(2)
			p.Add(l)
		}
		if lo, hi := s.scores.extent(); lo > 0 && !(d.threshold <= 0) {
			if th := d.threshold; !math.IsNaN(th) && !math.IsInf(th, 0) {
				lo, hi = min(lo, th), max(hi, th)
			}
			// A margin of a tenth of a decade (at least a decade in all), so that no line
			// runs along the frame.
			pad := math.Max(math.Pow(10, 0.1), math.Sqrt(10*lo/hi))
			p.Y.Min, p.Y.Max = lo/pad, hi*pad
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
			p.Y.Label.Text += " (log)"
		}
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return fmt.Errorf("device %s: no fields to draw", s.device)
	}
	for _, p := range panels {
		p.X.Min, p.X.Max = from, to
		p.X.Tick.Marker = plot.TickerFunc(timeTicks)
	}
	panels[0].Title.Text = fmt.Sprintf("%s: %d readings, %d scored, %d detections, %d labelled windows",
		s.device, s.readings, s.scored, s.anomalies, len(d.windows))
	if key := d.key(); key != "" {
		panels[0].Title.Text += "\n" + key
	}
	panels[len(panels)-1].X.Label.Text = "time (UTC)"

	img := image.NewRGBA(image.Rect(0, 0, d.width, len(panels)*d.panelHeight))
	c := vgimg.NewWith(vgimg.UseImage(img), vgimg.UseDPI(plotDPI))
	rows := make([][]*plot.Plot, len(panels))
	for i, p := range panels {
		rows[i] = []*plot.Plot{p}
	}
	pad := vg.Points(6)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: pad, PadBottom: pad, PadLeft: pad, PadRight: 2 * pad, PadY: pad}
	for i, cs := range plot.Align(rows, tiles, draw.New(c)) {
		rows[i][0].Draw(cs[0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, c.Image()); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// key says what the marks mean, for the title (a legend would hide data); "" when
// there are none.
func (d devicePlot) key() string {
	var key []string
	if len(d.fields) < d.storedFields {
		key = append(key, fmt.Sprintf("%d of %d fields", len(d.fields), d.storedFields))
	}
	if d.series.anomalies > 0 {
		key = append(key, "dots: detections")
	}
	if th := d.threshold; !math.IsNaN(th) && !math.IsInf(th, 0) && d.series.scored > 0 {
		key = append(key, fmt.Sprintf("red: threshold %.4g", th))
	}
	if len(d.windows) > 0 {
		key = append(key, "shaded: labelled windows")
	}
	return strings.Join(key, " · ")
}

// panel returns one panel: the labelled windows shaded, the decimated series as a line,
// and the detections as dots.
func panel(ylabel string, spans windowSpans, xys plotter.XYs, col color.Color, detections plotter.XYs) (*plot.Plot, error) {
	p := plot.New()
	p.Y.Label.Text = ylabel
	if len(spans) > 0 {
		p.Add(spans)
	}
	p.Add(plotter.NewGrid())
	if len(xys) > 0 {
		if err := addLine(p, xys, col); err != nil {
			return nil, err
		}
	} else {
		p.Y.Min, p.Y.Max = 0, 1 // nothing to draw: a blank panel with its axis
	}
	if len(detections) > 0 {
		sc, err := plotter.NewScatter(detections)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: detectionColor, Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5)}
		p.Add(sc)
	}
	return p, nil
}

// lineChunk is the most points one stroke of a series' line holds. The rasterizer
// (golang/freetype) slows down quadratically with the cells of a single path, and a
// decimated series zig-zags through many: a 3,200-point line takes seconds as one stroke,
// milliseconds as 64-point strokes.
const lineChunk = 64

// addLine adds xys to p as a line of colour col, 1 point wide, stroked in pieces of
// lineChunk points that share their end points.
func addLine(p *plot.Plot, xys plotter.XYs, col color.Color) error {
	for i := 0; i < len(xys); i += lineChunk - 1 {
		l, err := plotter.NewLine(xys[i:min(i+lineChunk, len(xys))])
		if err != nil {
			return err
		}
		l.Color, l.Width = col, vg.Points(1)
		p.Add(l)
		if i+lineChunk >= len(xys) {
			break
		}
	}
	return nil
}

// windowSpans are time intervals [start, end] in Unix seconds drawn as shaded bands over
// the whole height of a panel (a plot.Plotter). Parts outside the panel's time axis are
// not drawn.
type windowSpans [][2]float64

// Plot implements plot.Plotter.
func (ws windowSpans) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	for _, w := range ws {
		a, b := max(w[0], p.X.Min), min(w[1], p.X.Max)
		if b <= a {
			continue
		}
		x0, x1 := trX(a), trX(b)
		if x1-x0 < 1 { // at least a point wide, so a short window stays visible
			x1 = x0 + 1
		}
		c.FillPolygon(windowColor, []vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}})
	}
}
