package pipeline

import "reflect"

// Changes returns the configuration keys whose values differ between old and new, in
// file order: a top-level key ("buffer"), a section's field ("input.url", "store.path"),
// an operator's field under its stage name ("pipeline.window.size", a repeated type as
// "pipeline.clean#2.ranges"), or a whole section whose type changed or that was added or
// removed ("output", "pipeline" when the operator list changed length or types). Values
// are compared after defaults are applied, so setting a key to its default is no change.
// Only names are returned, never values (a secret stays unprinted).
func Changes(old, new *Config) []string {
	var out []string
	out = append(out, confChanges("", old.Top, new.Top)...)
	out = append(out, confChanges(string(KindInput), old.Input, new.Input)...)
	if opsChanged(old.Pipeline, new.Pipeline) {
		out = append(out, string(KindOperator))
	} else {
		names := stageNames(old.Pipeline)
		for i := range old.Pipeline {
			out = append(out, confChanges(string(KindOperator)+"."+names[i], old.Pipeline[i], new.Pipeline[i])...)
		}
	}
	out = append(out, confChanges(string(KindStore), old.Store, new.Store)...)
	out = append(out, confChanges(string(KindSummarize), old.Summarize, new.Summarize)...)
	out = append(out, confChanges(string(KindOutput), old.Output, new.Output)...)
	return out
}

// opsChanged reports whether two operator lists differ in length or in a type.
func opsChanged(a, b []*Conf) bool {
	if len(a) != len(b) {
		return true
	}
	for i := range a {
		if a[i].Spec.Name != b[i].Spec.Name {
			return true
		}
	}
	return false
}

// confChanges returns the fields of one section that differ, each as prefix.field (the
// field alone for prefix ""), or prefix alone when the section appeared, disappeared or
// changed type.
func confChanges(prefix string, a, b *Conf) []string {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil || b == nil || a.Spec.Name != b.Spec.Name:
		return []string{prefix}
	}
	var out []string
	for _, f := range a.Spec.Fields {
		if !reflect.DeepEqual(a.value(f), b.value(f)) {
			name := f.Name
			if prefix != "" {
				name = prefix + "." + f.Name
			}
			out = append(out, name)
		}
	}
	return out
}

// value returns field f's configured value, or its default.
func (c *Conf) value(f Field) any {
	if v, ok := c.vals[f.Name]; ok {
		return v
	}
	return f.Default
}
