package pipeline

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Top-level config keys.
const (
	KeyName         = "name"
	KeySite         = "site"
	KeyFields       = "fields"
	KeyBuffer       = "buffer"
	KeyDrainTimeout = "drain_timeout"
	KeyWatchdog     = "watchdog"
	KeyLogLevel     = "log_level"
	keyType         = "type"
)

// TopFields declares the top-level keys of a pipeline file besides the component
// sections (input, pipeline, store, summarize, output).
var TopFields = []Field{
	{Name: KeyName, Type: TypeString, Default: "edgepipe", Description: "Pipeline name, used in logs and metrics."},
	{Name: KeySite, Type: TypeString, Required: true, Description: "Site (gateway) name: the second token of every summary subject and part of its Nats-Msg-Id."},
	{Name: KeyFields, Type: TypeStrings, Required: true, Description: "The reading's fields, in order: Record.Values[i] is fields[i]. An entry name[N] (1 ≤ N ≤ 65536) is a vector field: N fields named name and the zero-padded position (px[784] → px000 … px783) that decode fills from one payload array of N numbers (images, spectra, accelerometer frames); quote it inside a [ ] list: [\"px[784]\", digit]."},
	{Name: KeyBuffer, Type: TypeInt, Default: 1024, Min: AtLeast(1), Description: "Capacity (records) of each channel between stages; a full channel blocks the stage before it (backpressure)."},
	{Name: KeyDrainTimeout, Type: TypeDuration, Default: 30 * time.Second, Description: "On SIGINT/SIGTERM, how long to wait for in-flight records to be committed and acked and the outbox forwarded before stopping anyway (what was not committed is not acked)."},
	{Name: KeyWatchdog, Type: TypeDuration, Default: time.Duration(0), Description: "When no reading has arrived for this long, log a WARN \"no reading for …\" (once per stall) and set the gauge edgepipe_stalled to 1 (0 again when readings resume; edgepipe_stalls_total counts stalls). 0 turns the watchdog off."},
	{Name: KeyLogLevel, Type: TypeString, Default: "", Enum: []string{"debug", "info", "warn", "error"}, Description: "Log level; when set it overrides the --log-level flag, and edgepipe run applies a new value on SIGHUP, without a restart. Empty = the flag's level."},
}

// Config is a parsed pipeline file.
type Config struct {
	File string
	// Top holds the top-level keys (TopFields).
	Top       *Conf
	Input     *Conf
	Pipeline  []*Conf
	Store     *Conf
	Summarize *Conf
	// Output is nil when the file has no output section (summaries stay in the store).
	Output *Conf

	fields  []string // the fields list with every vector field expanded (ExpandFields)
	vectors []Vector
}

// Fields returns the pipeline's field names, each vector field expanded into its
// positions (ExpandFields): Record.Values[i] is Fields()[i].
func (c *Config) Fields() []string { return c.fields }

// Vectors returns the pipeline's vector fields (entries name[N] of the fields list), in
// the order declared; nil when it has none.
func (c *Config) Vectors() []Vector { return c.vectors }

// Load reads and validates a pipeline file. On failure it returns ConfigErrors holding
// every problem found, each with its file:line:col.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

type parser struct {
	file   string
	lookup func(string) (string, bool)
	errs   ConfigErrors
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, &ConfigError{Pos: p.pos(n), Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) pos(n *yaml.Node) Pos { return Pos{File: p.file, Line: n.Line, Col: n.Column} }

// Parse validates a pipeline file's contents; file names it in errors. Scalars may use
// ${VAR} or ${VAR:-default}, replaced from the environment; an unset variable without a
// default is an error.
func Parse(file string, data []byte) (*Config, error) {
	return ParseEnv(file, data, os.LookupEnv)
}

// ParseEnv is Parse with the variables of ${VAR} references looked up by lookup instead
// of in the process environment.
func ParseEnv(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	cfg, errs := parse(file, data, lookup)
	if len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// parse returns what parsed cleanly (nil when the file is not a YAML mapping; a section
// whose own fields have errors is left nil) and every error found.
func parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, ConfigErrors) {
	p := &parser{file: file, lookup: lookup}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, ConfigErrors{yamlError(file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, ConfigErrors{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "empty config"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "a pipeline file is a mapping of keys (name, site, fields, input, pipeline, store, summarize, output)")
		return nil, p.errs
	}
	cfg := &Config{File: file}
	top := &Conf{Spec: Spec{Kind: "top", Name: "pipeline", Fields: TopFields}, Pos: p.pos(root), vals: map[string]any{}, pos: map[string]Pos{}}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		switch Kind(k.Value) {
		case KindInput:
			cfg.Input = p.component(KindInput, v)
		case KindStore:
			cfg.Store = p.component(KindStore, v)
		case KindSummarize:
			cfg.Summarize = p.component(KindSummarize, v)
		case KindOutput:
			cfg.Output = p.component(KindOutput, v)
		case KindOperator:
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, "pipeline: want a list of operators, each with a type")
				continue
			}
			for _, item := range v.Content {
				if c := p.component(KindOperator, item); c != nil {
					cfg.Pipeline = append(cfg.Pipeline, c)
				}
			}
		default:
			f, ok := top.Spec.field(k.Value)
			if !ok {
				p.errorf(k, "unknown key %q (want one of %s)", k.Value, strings.Join(topKeys(), ", "))
				continue
			}
			val, ok := p.value(f, v)
			if ok && len(f.Enum) > 0 && !contains(f.Enum, val.(string)) {
				p.errorf(v, "%s: %q is not one of %s", f.Name, val, strings.Join(f.Enum, ", "))
				continue
			}
			if ok {
				top.vals[f.Name] = val
				top.pos[f.Name] = p.pos(v)
			}
		}
	}
	for _, f := range TopFields {
		if f.Required && !seen[f.Name] {
			p.errorf(root, "missing required key %q: %s", f.Name, f.Description)
		}
	}
	for _, k := range []Kind{KindInput, KindStore, KindSummarize} {
		if !seen[string(k)] {
			p.errorf(root, "missing required section %q", k)
		}
	}
	if top.Has(KeyFields) {
		fields := top.Strings(KeyFields)
		if len(fields) == 0 {
			p.errorf(root, "fields: list at least one field")
		}
		var err error
		cfg.fields, cfg.vectors, err = ExpandFields(fields)
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				p.errs = append(p.errs, &ConfigError{Pos: top.pos[KeyFields], Msg: "fields: " + e.Error()})
			}
		}
	}
	cfg.Top = top
	return cfg, p.errs
}

func topKeys() []string {
	keys := []string{}
	for _, f := range TopFields {
		keys = append(keys, f.Name)
	}
	return append(keys, string(KindInput), string(KindOperator), string(KindStore), string(KindSummarize), string(KindOutput))
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlError(file string, err error) *ConfigError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = strings.TrimSpace(yamlLine.ReplaceAllString(msg, ""))
		msg = strings.TrimPrefix(msg, ": ")
	}
	return &ConfigError{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "invalid YAML: " + msg}
}

func (p *parser) component(kind Kind, n *yaml.Node) *Conf {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s: want a mapping with a type", kind)
		return nil
	}
	var typ *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == keyType {
			typ = n.Content[i+1]
		}
	}
	if typ == nil {
		p.errorf(n, "%s: missing type (one of %s)", kind, strings.Join(specNames(kind), ", "))
		return nil
	}
	spec, ok := Lookup(kind, typ.Value)
	if !ok {
		p.errorf(typ, "%s: unknown type %q (one of %s)", kind, typ.Value, strings.Join(specNames(kind), ", "))
		return nil
	}
	c := &Conf{Spec: spec, Pos: p.pos(n), vals: map[string]any{}, pos: map[string]Pos{}}
	before := len(p.errs)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == keyType {
			continue
		}
		if seen[k.Value] {
			p.errorf(k, "%s %s: duplicate key %q", kind, spec.Name, k.Value)
			continue
		}
		seen[k.Value] = true
		f, ok := spec.field(k.Value)
		if !ok {
			var names []string
			for _, f := range spec.Fields {
				names = append(names, f.Name)
			}
			p.errorf(k, "%s %s: unknown key %q (want one of %s)", kind, spec.Name, k.Value, strings.Join(names, ", "))
			continue
		}
		mark := len(p.errs)
		val, ok := p.value(f, v)
		if !ok {
			for _, e := range p.errs[mark:] {
				e.Msg = fmt.Sprintf("%s %s: %s", kind, spec.Name, e.Msg)
			}
			continue
		}
		if len(f.Enum) > 0 && !contains(f.Enum, val.(string)) {
			p.errorf(v, "%s %s: %s: %q is not one of %s", kind, spec.Name, f.Name, val, strings.Join(f.Enum, ", "))
			continue
		}
		c.vals[f.Name] = val
		c.pos[f.Name] = p.pos(v)
	}
	for _, f := range spec.Fields {
		if f.Required && !seen[f.Name] {
			p.errorf(n, "%s %s: missing required key %q: %s", kind, spec.Name, f.Name, f.Description)
		}
	}
	if len(p.errs) > before {
		return nil
	}
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// scalar returns the node's scalar value with ${VAR} references replaced.
func (p *parser) scalar(f Field, n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s: want a %s", f.Name, f.Type)
		return "", false
	}
	ok := true
	s := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		v, set := p.lookup(m[1])
		switch {
		case m[2] != "" && v != "":
			return v
		case m[2] != "":
			return m[3] // ${VAR:-default}: unset or empty, as in the shell
		case set:
			return v
		}
		p.errorf(n, "%s: environment variable %s is not set", f.Name, m[1])
		ok = false
		return ""
	})
	return s, ok
}

// inBounds reports whether v is within f's Min and Max, recording an error if not.
func (p *parser) inBounds(f Field, n *yaml.Node, v float64) bool {
	switch {
	case f.Min != nil && v < *f.Min:
		p.errorf(n, "%s: %v is below the minimum %v", f.Name, v, *f.Min)
	case f.Max != nil && v > *f.Max:
		p.errorf(n, "%s: %v is above the maximum %v", f.Name, v, *f.Max)
	default:
		return true
	}
	return false
}

// value converts node n to field f's Go type.
func (p *parser) value(f Field, n *yaml.Node) (any, bool) {
	switch f.Type {
	case TypeStrings, TypeFloats:
		if n.Kind != yaml.SequenceNode {
			p.errorf(n, "%s: want a list (%s)", f.Name, f.Type)
			return nil, false
		}
		elem := Field{Name: f.Name, Type: TypeString}
		if f.Type == TypeFloats {
			elem.Type = TypeFloat
		}
		ok := true
		var ss []string
		var fs []float64
		for _, item := range n.Content {
			v, good := p.value(elem, item)
			if !good {
				ok = false
				continue
			}
			if f.Type == TypeFloats {
				fs = append(fs, v.(float64))
			} else {
				ss = append(ss, v.(string))
			}
		}
		if f.Type == TypeFloats {
			return fs, ok
		}
		return ss, ok
	case TypeStringMap, TypeFloatMap, TypeRangeMap, TypeFloatsMap:
		if n.Kind != yaml.MappingNode {
			p.errorf(n, "%s: want a mapping (%s)", f.Name, f.Type)
			return nil, false
		}
		sm, fm, rm, lm := map[string]string{}, map[string]float64{}, map[string][2]float64{}, map[string][]float64{}
		ok := true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch f.Type {
			case TypeStringMap:
				s, good := p.value(Field{Name: f.Name + "." + k.Value, Type: TypeString}, v)
				if good {
					sm[k.Value] = s.(string)
				}
				ok = ok && good
			case TypeFloatMap:
				x, good := p.value(Field{Name: f.Name + "." + k.Value, Type: TypeFloat}, v)
				if good {
					fm[k.Value] = x.(float64)
				}
				ok = ok && good
			case TypeFloatsMap:
				xs, good := p.value(Field{Name: f.Name + "." + k.Value, Type: TypeFloats}, v)
				if good {
					lm[k.Value] = xs.([]float64)
				}
				ok = ok && good
			default:
				r, good := p.value(Field{Name: f.Name + "." + k.Value, Type: TypeFloats}, v)
				if !good {
					ok = false
					continue
				}
				xs := r.([]float64)
				if len(xs) != 2 || !(xs[0] <= xs[1]) {
					p.errorf(v, "%s.%s: want [min, max] with min ≤ max", f.Name, k.Value)
					ok = false
					continue
				}
				rm[k.Value] = [2]float64{xs[0], xs[1]}
			}
		}
		switch f.Type {
		case TypeStringMap:
			return sm, ok
		case TypeFloatMap:
			return fm, ok
		case TypeFloatsMap:
			return lm, ok
		}
		return rm, ok
	}
	s, ok := p.scalar(f, n)
	if !ok {
		return nil, false
	}
	switch f.Type {
	case TypeString:
		return s, true
	case TypeInt:
		v, err := strconv.Atoi(s)
		if err != nil {
			p.errorf(n, "%s: %q is not an integer", f.Name, s)
			return nil, false
		}
		return v, p.inBounds(f, n, float64(v))
	case TypeFloat:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			p.errorf(n, "%s: %q is not a finite number", f.Name, s)
			return nil, false
		}
		return v, p.inBounds(f, n, v)
	case TypeBool:
		v, err := strconv.ParseBool(s)
		if err != nil {
			p.errorf(n, "%s: %q is not true or false", f.Name, s)
			return nil, false
		}
		return v, true
	case TypeDuration:
		v, err := time.ParseDuration(s)
		if err != nil {
			p.errorf(n, "%s: %q is not a duration (e.g. 250ms, 5s, 1h)", f.Name, s)
			return nil, false
		}
		if v < 0 {
			p.errorf(n, "%s: %q is negative", f.Name, s)
			return nil, false
		}
		return v, true
	}
	panic("pipeline: unhandled field type " + string(f.Type))
}
