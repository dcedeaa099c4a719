package main

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/edgepipe/edgepipe/models"
)

// saveLossCurve draws the training loss and, when there is one, the validation loss per
// epoch (gonum.org/v1/plot) and writes the picture to path, 16 × 10 cm; the format follows
// the extension (.png, .svg, .pdf…). It returns an error for no epochs, an unknown
// extension or a failed write.
func saveLossCurve(path, title string, loss models.Loss, hist []models.EpochStats) error {
	if len(hist) == 0 {
		return fmt.Errorf("--loss-png: no epochs to draw")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = string(loss) + " loss"
	p.Add(plotter.NewGrid())
	var train, val plotter.XYs
	for _, s := range hist {
		train = append(train, plotter.XY{X: float64(s.Epoch), Y: s.TrainLoss})
		if !math.IsNaN(s.ValLoss) {
			val = append(val, plotter.XY{X: float64(s.Epoch), Y: s.ValLoss})
		}
	}
	for _, c := range []struct {
		name string
		xys  plotter.XYs
		col  color.Color
	}{{"training", train, color.RGBA{R: 31, G: 119, B: 180, A: 255}}, {"validation", val, color.RGBA{R: 255, G: 127, B: 14, A: 255}}} {
		if len(c.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(c.xys)
		if err != nil {
			return fmt.Errorf("--loss-png: %w", err)
		}
		l.Color, l.Width = c.col, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(c.name, l)
	}
	p.Legend.Top = true
	if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, path); err != nil {
		return fmt.Errorf("--loss-png: %w", err)
	}
	return nil
}
