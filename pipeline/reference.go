package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// Reference returns the configuration reference in Markdown, generated from the
// top-level fields and every registered Spec (README.md's config section is this text;
// a test keeps them equal).
func Reference() string {
	var b strings.Builder
	b.WriteString("### Top level\n\n")
	writeFields(&b, TopFields)
	for _, k := range []Kind{KindInput, KindOperator, KindStore, KindSummarize, KindOutput} {
		for _, s := range Specs(k) {
			fmt.Fprintf(&b, "\n### `%s` type `%s`\n\n%s\n\n", k, s.Name, s.Summary)
			writeFields(&b, s.Fields)
		}
	}
	return b.String()
}

func writeFields(b *strings.Builder, fields []Field) {
	if len(fields) == 0 {
		b.WriteString("No fields.\n")
		return
	}
	b.WriteString("| field | type | default | description |\n|---|---|---|---|\n")
	for _, f := range fields {
		def := "—"
		switch {
		case f.Required:
			def = "required"
		case f.Default != nil && !f.Secret:
			def = "`" + formatDefault(f.Default) + "`"
		}
		desc := f.Description
		switch {
		case f.Min != nil && f.Max != nil:
			desc += fmt.Sprintf(" Range %v to %v.", *f.Min, *f.Max)
		case f.Min != nil:
			desc += fmt.Sprintf(" At least %v.", *f.Min)
		case f.Max != nil:
			desc += fmt.Sprintf(" At most %v.", *f.Max)
		}
		if len(f.Enum) > 0 {
			desc += " One of: " + strings.Join(f.Enum, ", ") + "."
		}
		if f.Secret {
			desc += " Secret: never printed."
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", f.Name, strings.ReplaceAll(string(f.Type), "|", "\\|"), def, strings.ReplaceAll(desc, "|", "\\|"))
	}
}

func formatDefault(v any) string {
	switch x := v.(type) {
	case time.Duration:
		return x.String()
	case []string:
		return "[" + strings.Join(x, ", ") + "]"
	case string:
		if x == "" {
			return `""`
		}
	}
	return fmt.Sprint(v)
}
