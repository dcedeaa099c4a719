package pipeline

import (
	"fmt"
	"sort"
	"sync"
)

// Kind is the config section a component belongs to.
type Kind string

// The config sections that hold components.
const (
	KindInput     Kind = "input"     // a Source
	KindOperator  Kind = "pipeline"  // an Operator, one entry of the `pipeline:` list
	KindStore     Kind = "store"     // a Sink
	KindSummarize Kind = "summarize" // a Summarizer
	KindOutput    Kind = "output"    // a Forwarder
)

// Type is the YAML type of a config field.
type Type string

// Field types. A Duration is a Go duration string ("250ms", "1h"); a RangeMap maps a field
// name to a two-element list [min, max]; a FloatsMap maps a name to a list of numbers.
const (
	TypeString    Type = "string"
	TypeInt       Type = "int"
	TypeFloat     Type = "float"
	TypeBool      Type = "bool"
	TypeDuration  Type = "duration"
	TypeStrings   Type = "[]string"
	TypeFloats    Type = "[]float"
	TypeStringMap Type = "map[string]string"
	TypeFloatMap  Type = "map[string]float"
	TypeRangeMap  Type = "map[string][min, max]"
	TypeFloatsMap Type = "map[string][]float"
)

// Field declares one config field of a component once: its name, type, default and
// description drive parsing, lint errors and the generated reference.
type Field struct {
	Name        string
	Type        Type
	Default     any // a value of the Go type the getter returns; nil = no default
	Description string
	Required    bool
	// Enum, when set, lists the allowed values of a string field.
	Enum []string
	// Secret fields are never printed (lint output, errors, logs).
	Secret bool
	// Min and Max, when set, bound an int or float field (inclusive); see AtLeast.
	Min, Max *float64
}

// AtLeast returns a bound for Field.Min or Field.Max.
func AtLeast(x float64) *float64 { return &x }

// Spec declares a component: where it goes in the config, its YAML `type`, its fields,
// and how to build it.
type Spec struct {
	Kind    Kind
	Name    string // the YAML `type`
	Summary string // one line for the reference
	Fields  []Field
	// Build returns the component: a Source, Operator, Sink, Summarizer or Forwarder
	// according to Kind. Errors about a field should come from Conf.Errorf so they carry
	// the field's position.
	Build func(c *Conf, env *Env) (any, error)
}

func (s Spec) field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

var registry = struct {
	sync.Mutex
	specs map[Kind]map[string]Spec
}{specs: map[Kind]map[string]Spec{}}

// Register adds a component spec. It panics on a duplicate kind and name, or a Spec
// without Build: both are programming errors found at init.
func Register(s Spec) {
	registry.Lock()
	defer registry.Unlock()
	if s.Build == nil {
		panic(fmt.Sprintf("pipeline: %s %q registered without Build", s.Kind, s.Name))
	}
	m := registry.specs[s.Kind]
	if m == nil {
		m = map[string]Spec{}
		registry.specs[s.Kind] = m
	}
	if _, dup := m[s.Name]; dup {
		panic(fmt.Sprintf("pipeline: %s %q registered twice", s.Kind, s.Name))
	}
	m[s.Name] = s
}

// Lookup returns the spec registered for kind and name.
func Lookup(kind Kind, name string) (Spec, bool) {
	registry.Lock()
	defer registry.Unlock()
	s, ok := registry.specs[kind][name]
	return s, ok
}

// Specs returns every registered spec of kind, sorted by name.
func Specs(kind Kind) []Spec {
	registry.Lock()
	defer registry.Unlock()
	var out []Spec
	for _, s := range registry.specs[kind] {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func specNames(kind Kind) []string {
	var names []string
	for _, s := range Specs(kind) {
		names = append(names, s.Name)
	}
	return names
}
