package operators

import (
	"math"
	"strings"

	"github.com/edgepipe/edgepipe/pipeline"
)

const (
	typeClean      = "clean"
	fieldRanges    = "ranges"
	fieldDropEmpty = "drop_empty"
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindOperator,
		Name:    typeClean,
		Summary: "Marks impossible values missing: non-finite, or outside the field's physical range.",
		Fields: []pipeline.Field{
			{Name: fieldRanges, Type: pipeline.TypeRangeMap,
				Description: "Field → [min, max], the physical range in the field's unit (e.g. temperature: [-40, 85] °C); a value outside it becomes missing (NaN). Fields not listed accept any finite value."},
			{Name: fieldDropEmpty, Type: pipeline.TypeBool, Default: true,
				Description: "Dead-letter a reading whose fields are all missing (\"clean: every field missing\")."},
		},
		Build: func(c *pipeline.Conf, env *pipeline.Env) (any, error) {
			op, err := NewClean(env.Fields, c.RangeMap(fieldRanges), c.Bool(fieldDropEmpty))
			if err != nil {
				return nil, confError(c, fieldRanges, err)
			}
			return op, nil
		},
	})
}

// NewClean returns the clean operator for a pipeline with the given fields. A value of
// Record.Values that is NaN, ±Inf or outside ranges[field] = [min, max] (inclusive, in
// the field's physical unit) becomes NaN (missing). With dropEmpty, a reading whose
// values are all missing is dead-lettered "clean: every field missing". It returns an
// *OptionError when ranges names a field not in fields.
func NewClean(fields []string, ranges map[string][2]float64, dropEmpty bool) (pipeline.Operator, error) {
	lo, hi := make([]float64, len(fields)), make([]float64, len(fields))
	for i := range fields {
		lo[i], hi[i] = math.Inf(-1), math.Inf(1)
	}
	for f, r := range ranges {
		i := indexOf(fields, f)
		if i < 0 {
			return nil, optionErrorf(fieldRanges, "%q is not a pipeline field (fields: %s)", f, strings.Join(fields, ", "))
		}
		if !(r[0] <= r[1]) {
			return nil, optionErrorf(fieldRanges, "%s: want [min, max] with min ≤ max, got %v", f, r)
		}
		lo[i], hi[i] = r[0], r[1]
	}
	return recordFunc(func(rec *pipeline.Record) {
		present := 0
		for i, v := range rec.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) || i < len(lo) && (v < lo[i] || v > hi[i]) {
				rec.Values[i] = math.NaN()
				continue
			}
			present++
		}
		if dropEmpty && present == 0 {
			rec.Fail("clean: every field missing")
		}
	}), nil
}
