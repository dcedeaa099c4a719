package operators

import (
	"math"
	"strings"

	"github.com/edgepipe/edgepipe/pipeline"
)

const (
	typeClean      = "clean"
	fieldRanges    = "ranges"
	fieldSentinels = "sentinels"
	fieldDropEmpty = "drop_empty"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindOperator,
		Name:    typeClean,
		Summary: "Marks impossible values missing: non-finite, a sensor's sentinel value, or outside the field's physical range.",
		Fields: []pipeline.Field{
			{Name: fieldRanges, Type: pipeline.TypeRangeMap,
				Description: "Field → [min, max], the physical range in the field's unit (e.g. temperature: [-40, 85] °C); a value outside it becomes missing (NaN). Fields not listed accept any finite value."},
			{Name: fieldSentinels, Type: pipeline.TypeFloatsMap,
				Description: "Field → the values the sensor sends for \"no reading\" (e.g. temperature: [85, -127] for a DS18B20 probe, or [-999]); a value equal to one of them becomes missing (NaN), so it is never averaged."},
			{Name: fieldDropEmpty, Type: pipeline.TypeBool, Default: true,
				Description: "Dead-letter a reading whose fields are all missing (\"clean: every field missing\")."},
		},
		Build: func(c *pipeline.Conf, env *pipeline.Env) (any, error) {
			op, err := NewClean(env.Fields, CleanOptions{
				Ranges:    c.RangeMap(fieldRanges),
				Sentinels: c.FloatsMap(fieldSentinels),
				DropEmpty: c.Bool(fieldDropEmpty),
			})
			if err != nil {
				return nil, confError(c, fieldRanges, err)
			}
			return op, nil
		},
	})
}

// CleanOptions configure NewClean.
type CleanOptions struct {
	// Ranges maps a field to its inclusive physical range [min, max], in the field's unit.
	Ranges map[string][2]float64
	// Sentinels maps a field to the values its sensor sends for "no reading" (a DS18B20
	// probe: 85 °C at power-on reset, -127 °C when disconnected; many loggers: -999).
	Sentinels map[string][]float64
	// DropEmpty dead-letters a reading whose values are all missing.
	DropEmpty bool
}

// NewClean returns the clean operator for a pipeline with the given fields. A value of
// Record.Values that is NaN, ±Inf, equal to one of o.Sentinels[field], or outside
// o.Ranges[field] = [min, max] (inclusive, in the field's physical unit) becomes NaN
// (missing). With o.DropEmpty, a reading whose values are all missing is dead-lettered
// "clean: every field missing". It returns an *OptionError when Ranges or Sentinels
// names a field not in fields, a range has min > max, or a sentinel is not finite.
func NewClean(fields []string, o CleanOptions) (pipeline.Operator, error) {
	lo, hi := make([]float64, len(fields)), make([]float64, len(fields))
	for i := range fields {
		lo[i], hi[i] = math.Inf(-1), math.Inf(1)
	}
	for f, r := range o.Ranges {
		i := indexOf(fields, f)
		if i < 0 {
			return nil, optionErrorf(fieldRanges, "%q is not a pipeline field (fields: %s)", f, strings.Join(fields, ", "))
		}
		if !(r[0] <= r[1]) {
			return nil, optionErrorf(fieldRanges, "%s: want [min, max] with min ≤ max, got %v", f, r)
		}
		lo[i], hi[i] = r[0], r[1]
	}
	sentinels := make([][]float64, len(fields))
	for f, xs := range o.Sentinels {
		i := indexOf(fields, f)
		if i < 0 {
			return nil, optionErrorf(fieldSentinels, "%q is not a pipeline field (fields: %s)", f, strings.Join(fields, ", "))
		}
		for _, x := range xs {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, optionErrorf(fieldSentinels, "%s: %v is not finite (non-finite values are always missing)", f, x)
			}
		}
		sentinels[i] = xs
	}
	return recordFunc(func(rec *pipeline.Record) {
		present := 0
		for i, v := range rec.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) || i < len(lo) && (v < lo[i] || v > hi[i] || isSentinel(v, sentinels[i])) {
				rec.Values[i] = math.NaN()
				continue
			}
			present++
		}
		if o.DropEmpty && present == 0 {
			rec.Fail("clean: every field missing")
		}
	}), nil
}

// isSentinel reports whether v equals one of sentinels exactly (a sensor sends its
// sentinel as a fixed literal, so no tolerance is applied).
func isSentinel(v float64, sentinels []float64) bool {
	for _, s := range sentinels {
		if v == s {
			return true
		}
	}
	return false
}
