package operators

import (
	"log/slog"
	"math"
	"strings"

	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
)

const (
	typeNormalize = "normalize"
	fieldModel    = "model"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindOperator,
		Name:    typeNormalize,
		Summary: "Builds the model features: the model's fields, z-scored with the device's scaler from the model file.",
		Fields: []pipeline.Field{
			{Name: fieldModel, Type: pipeline.TypeString, Required: true,
				Description: "Model file (relative to the config file) whose features and per-device scalers are used."},
		},
		Build: func(c *pipeline.Conf, env *pipeline.Env) (any, error) {
			f, err := sharedModelFile(env, env.Path(c.String(fieldModel)))
			if err != nil {
				return nil, c.Errorf(fieldModel, "%v", err)
			}
			// The scalers follow the hot swaps of an infer operator naming the same file.
			op, err := newNormalize(func() models.Meta { return f.Current().Meta() }, env.Fields, env.Log)
			if err != nil {
				return nil, confError(c, fieldModel, err)
			}
			return op, nil
		},
	})
}

// NewNormalize returns the normalize operator for a model's metadata and the pipeline's
// fields. For each reading it gathers the model's F features (meta.Features, by name)
// from Record.Values and sets Record.Features (width F) to their z-scores with
// meta.ScalerFor(device): z = (v − mean) / std, NaN staying NaN, and a z that overflows
// to ±Inf (a huge value, a tiny std) becoming NaN (missing) too. A device without a
// scaler and no "" default gets Features = nil (stored, not scored), with one warning
// per device on log. It returns an *OptionError (field "model") when a model feature is
// not a pipeline field or a scaler's width is not F. The operator is a
// pipeline.FeatureStage of output width F, whatever came before.
func NewNormalize(meta models.Meta, fields []string, log *slog.Logger) (pipeline.Operator, error) {
	return newNormalize(func() models.Meta { return meta }, fields, log)
}

// newNormalize is NewNormalize with the metadata of the model serving now: current is
// called once to check it and once per reading for its scaler. Every later model must
// have the same features (models.CheckReplacement) and scaler widths (models.Decode).
func newNormalize(current func() models.Meta, fields []string, log *slog.Logger) (pipeline.Operator, error) {
	meta := current()
	if len(meta.Features) == 0 {
		return nil, optionErrorf(fieldModel, "model %q lists no features", meta.Name)
	}
	idx := make([]int, len(meta.Features))
	for j, f := range meta.Features {
		if idx[j] = indexOf(fields, f); idx[j] < 0 {
			return nil, optionErrorf(fieldModel, "model %q reads field %q, which the pipeline does not have (fields: %s; model features: %s)",
				meta.Name, f, strings.Join(fields, ", "), strings.Join(meta.Features, ", "))
		}
	}
	for dev, s := range meta.Scalers {
		if len(s.Mean) != len(idx) || len(s.Std) != len(idx) {
			return nil, optionErrorf(fieldModel, "model %q: scaler of device %q has %d means and %d stds, want %d (one per feature)",
				meta.Name, dev, len(s.Mean), len(s.Std), len(idx))
		}
	}
	log = orDiscard(log)
	warned := map[string]bool{}
	var slab floatSlab // of the records' Features
	width := func(int) (int, error) { return len(idx), nil }
	return featureFunc{width: width, recordFunc: func(rec *pipeline.Record) {
		meta := current()
		s, ok := meta.ScalerFor(rec.Device)
		if !ok {
			rec.Features = nil
			if !warned[rec.Device] {
				warned[rec.Device] = true
				log.Warn("normalize: the model has no scaler for this device and no default; its readings are stored but not scored",
					"device", rec.Device, "model", meta.Name)
			}
			return
		}
		z := slab.take(len(idx))
		for j, i := range idx {
			z[j] = math.NaN()
			if i < len(rec.Values) {
				z[j] = rec.Values[i]
			}
		}
		s.Apply(z, z)
		for j, v := range z {
			if math.IsInf(v, 0) { // a finite value beyond the scaler's reach (tiny std, huge value)
				z[j] = math.NaN()
			}
		}
		rec.Features = z
	}}, nil
}
