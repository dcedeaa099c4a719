package pipeline

import (
	"fmt"
	"time"
)

// Pos is a position in a config file (1-based line and column).
type Pos struct {
	File      string
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// ConfigError is one problem in a config file, printed as `file:line:col: message`.
type ConfigError struct {
	Pos Pos
	Msg string
}

func (e *ConfigError) Error() string { return e.Pos.String() + ": " + e.Msg }

// ConfigErrors is every problem found in a config file, in file order.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	s := ""
	for i, e := range es {
		if i > 0 {
			s += "\n"
		}
		s += e.Error()
	}
	return s
}

// Conf is the parsed, type-checked configuration of one component. Its getters take a
// field name that the component's Spec declares and return the configured value or the
// declared default; they panic on an undeclared name or a type mismatch, which are
// programming errors (the config itself was validated when it was parsed).
type Conf struct {
	Spec Spec
	// Pos is where the component's mapping starts.
	Pos  Pos
	vals map[string]any
	pos  map[string]Pos
}

func (c *Conf) get(name string, t Type) any {
	f, ok := c.Spec.field(name)
	if !ok {
		panic(fmt.Sprintf("pipeline: %s %q has no field %q", c.Spec.Kind, c.Spec.Name, name))
	}
	if f.Type != t {
		panic(fmt.Sprintf("pipeline: %s %q field %q is %s, not %s", c.Spec.Kind, c.Spec.Name, name, f.Type, t))
	}
	if v, ok := c.vals[name]; ok {
		return v
	}
	return f.Default
}

// Has reports whether the field was set in the file (not defaulted).
func (c *Conf) Has(name string) bool { _, ok := c.vals[name]; return ok }

// Set overrides a field's value, as if the file had set it; programs use it to adjust a
// loaded config (the demo points a pipeline at its embedded servers). The value must have
// the Go type of the field's getter.
func (c *Conf) Set(name string, v any) {
	if _, ok := c.Spec.field(name); !ok {
		panic(fmt.Sprintf("pipeline: %s %q has no field %q", c.Spec.Kind, c.Spec.Name, name))
	}
	c.vals[name] = v
}

// Errorf returns a ConfigError at the position of field name (or of the component when
// the field was not set).
func (c *Conf) Errorf(name, format string, args ...any) error {
	p, ok := c.pos[name]
	if !ok {
		p = c.Pos
	}
	return &ConfigError{Pos: p, Msg: fmt.Sprintf("%s %s: %s: ", c.Spec.Kind, c.Spec.Name, name) + fmt.Sprintf(format, args...)}
}

func (c *Conf) String(name string) string { v, _ := c.get(name, TypeString).(string); return v }
func (c *Conf) Int(name string) int       { v, _ := c.get(name, TypeInt).(int); return v }
func (c *Conf) Float(name string) float64 { v, _ := c.get(name, TypeFloat).(float64); return v }
func (c *Conf) Bool(name string) bool     { v, _ := c.get(name, TypeBool).(bool); return v }
func (c *Conf) Duration(name string) time.Duration {
	v, _ := c.get(name, TypeDuration).(time.Duration)
	return v
}
func (c *Conf) Strings(name string) []string { v, _ := c.get(name, TypeStrings).([]string); return v }
func (c *Conf) Floats(name string) []float64 { v, _ := c.get(name, TypeFloats).([]float64); return v }
func (c *Conf) StringMap(name string) map[string]string {
	v, _ := c.get(name, TypeStringMap).(map[string]string)
	return v
}
func (c *Conf) FloatMap(name string) map[string]float64 {
	v, _ := c.get(name, TypeFloatMap).(map[string]float64)
	return v
}
func (c *Conf) RangeMap(name string) map[string][2]float64 {
	v, _ := c.get(name, TypeRangeMap).(map[string][2]float64)
	return v
}
func (c *Conf) FloatsMap(name string) map[string][]float64 {
	v, _ := c.get(name, TypeFloatsMap).(map[string][]float64)
	return v
}
