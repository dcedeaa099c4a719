package operators

import (
	"errors"
	"math"

	"github.com/edgepipe/edgepipe/pipeline"
)

const (
	typeFill    = "fill"
	fieldMethod = "method"
)

// Gap-filling methods (YAML `method` of fill).
const (
	FillPrevious = "previous" // last observation carried forward
	FillZero     = "zero"     // 0, the scaler's mean after normalize
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindOperator,
		Name:    typeFill,
		Summary: "Fills missing (NaN) model features so a reading with a gap can still be scored.",
		Fields: []pipeline.Field{
			{Name: fieldMethod, Type: pipeline.TypeString, Default: FillPrevious, Enum: []string{FillPrevious, FillZero},
				Description: "previous: the device's previous filled value of that feature (0 before the first); zero: 0 (after normalize, the training mean)."},
		},
		Build: func(c *pipeline.Conf, _ *pipeline.Env) (any, error) {
			op, err := NewFill(c.String(fieldMethod))
			if err != nil {
				return nil, confError(c, fieldMethod, err)
			}
			return op, nil
		},
	})
}

// NewFill returns the fill operator: each NaN or ±Inf of Record.Features (width F) is replaced,
// per device, by the previous filled value of that column (FillPrevious; 0 when the device
// has none yet) or by 0 (FillZero). Values (physical units) are left as they are; a record
// with nil Features passes unchanged. It returns an *OptionError for an unknown method.
// As a pipeline.FeatureStage it keeps the width and needs Features from an earlier stage.
func NewFill(method string) (pipeline.Operator, error) {
	switch method {
	case FillZero:
		return featureFunc{width: fillWidth, recordFunc: func(rec *pipeline.Record) {
			for i, v := range rec.Features {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					rec.Features[i] = 0
				}
			}
		}}, nil
	case FillPrevious:
		last := map[string][]float64{}
		return featureFunc{width: fillWidth, recordFunc: func(rec *pipeline.Record) {
			if rec.Features == nil {
				return
			}
			prev := last[rec.Device]
			if len(prev) != len(rec.Features) {
				prev = make([]float64, len(rec.Features))
				last[rec.Device] = prev
			}
			for i, v := range rec.Features {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					rec.Features[i] = prev[i]
				}
				prev[i] = rec.Features[i]
			}
		}}, nil
	}
	return nil, optionErrorf(fieldMethod, "%q is not one of previous, zero", method)
}

// fillWidth is fill's pipeline.FeatureStage width: it keeps the width of the Features it
// fills, and needs an earlier stage (normalize) to set them.
func fillWidth(in int) (int, error) {
	if in < 0 {
		return 0, errors.New("fill needs features: put it after normalize")
	}
	return in, nil
}
