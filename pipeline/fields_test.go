package pipeline

import (
	"slices"
	"strings"
	"testing"
)

func TestVectorFieldName(t *testing.T) {
	for _, tc := range []struct {
		name     string
		i, width int
		want     string
	}{
		{"px", 0, 784, "px000"},
		{"px", 783, 784, "px783"},
		{"acc", 2, 3, "acc2"},
		{"x", 0, 1, "x0"},
		{"s", 9, 10, "s9"},
		{"s", 7, 11, "s07"},
		{"bin", 65535, 65536, "bin65535"},
	} {
		if got := VectorFieldName(tc.name, tc.i, tc.width); got != tc.want {
			t.Errorf("VectorFieldName(%q, %d, %d) = %q, want %q", tc.name, tc.i, tc.width, got, tc.want)
		}
	}
}

func TestExpandFields(t *testing.T) {
	for _, tc := range []struct {
		decl    []string
		names   []string
		vectors []Vector
	}{
		{[]string{"value"}, []string{"value"}, nil},
		{[]string{"ts_offset", "acc[3]", "temp"}, []string{"ts_offset", "acc0", "acc1", "acc2", "temp"}, []Vector{{Name: "acc", Start: 1, Width: 3}}},
		{[]string{"a[2]", "b[1]"}, []string{"a0", "a1", "b0"}, []Vector{{Name: "a", Start: 0, Width: 2}, {Name: "b", Start: 2, Width: 1}}},
		{[]string{"s[11]"}, []string{"s00", "s01", "s02", "s03", "s04", "s05", "s06", "s07", "s08", "s09", "s10"}, []Vector{{Name: "s", Width: 11}}},
	} {
		names, vectors, err := ExpandFields(tc.decl)
		if err != nil || !slices.Equal(names, tc.names) || !slices.Equal(vectors, tc.vectors) {
			t.Errorf("ExpandFields(%q) = %q, %+v, %v; want %q, %+v", tc.decl, names, vectors, err, tc.names, tc.vectors)
		}
	}
	names, vectors, err := ExpandFields([]string{"px[784]", "digit"})
	if err != nil || len(names) != 785 || names[0] != "px000" || names[783] != "px783" || names[784] != "digit" ||
		!slices.Equal(vectors, []Vector{{Name: "px", Width: 784}}) {
		t.Errorf("px[784], digit: %d names (%q … %q), %+v, %v", len(names), names[0], names[len(names)-1], vectors, err)
	}
}

func TestExpandFieldsErrors(t *testing.T) {
	for _, tc := range []struct {
		decl []string
		errs []string
		// names are what is left for later checks.
		names []string
	}{
		{[]string{"v", "v"}, []string{`"v" is listed twice`}, []string{"v"}},
		{[]string{"px[3]", "px[3]"}, []string{`"px[3]" is listed twice`}, []string{"px0", "px1", "px2"}},
		{[]string{"px", "px[3]"}, []string{`"px" is declared twice: by "px" and by "px[3]"`}, []string{"px"}},
		{[]string{"px[3]", "px"}, []string{`"px" is declared twice: by "px[3]" and by "px"`}, []string{"px0", "px1", "px2"}},
		{[]string{"px3", "px[10]", "t"}, []string{`"px3" is declared twice: by "px3" and by "px[10]"`}, []string{"px3", "t"}},
		{[]string{""}, []string{"an empty field name"}, nil},
		{[]string{"px[0]"}, []string{`"px[0]": the width of a vector field is an integer from 1 to 65536`}, nil},
		{[]string{"px[-1]"}, []string{`"px[-1]": the width of a vector field is an integer from 1 to 65536`}, nil},
		{[]string{"px[65537]"}, []string{`"px[65537]": the width of a vector field is an integer from 1 to 65536`}, nil},
		{[]string{"px[x]", "ok"}, []string{`"px[x]": the width of a vector field is an integer from 1 to 65536`}, []string{"ok"}},
		{[]string{"px[", "[3]", "px]", "px[3]x", "px[[3]]", "a[1][2]"}, []string{
			`"px[": a field is name or name[N] (a vector of N values)`,
			`"[3]": a field is name or name[N] (a vector of N values)`,
			`"px]": a field is name or name[N] (a vector of N values)`,
			`"px[3]x": a field is name or name[N] (a vector of N values)`,
			`"px[[3]]": a field is name or name[N] (a vector of N values)`,
			`"a[1][2]": a field is name or name[N] (a vector of N values)`,
		}, nil},
		{[]string{"a[65536]", "b"}, []string{`"b": more than 65536 fields in all`}, nil},
	} {
		names, _, err := ExpandFields(tc.decl)
		var got []string
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				got = append(got, e.Error())
			}
		}
		if !slices.Equal(got, tc.errs) {
			t.Errorf("ExpandFields(%q) errors:\n%s\nwant:\n%s", tc.decl, strings.Join(got, "\n"), strings.Join(tc.errs, "\n"))
		}
		if tc.names != nil && !slices.Equal(names, tc.names) {
			t.Errorf("ExpandFields(%q) kept %q, want %q", tc.decl, names, tc.names)
		}
	}
}

// A vector field in a pipeline file: Config.Fields expands it, Build hands the fields and
// vectors to the components (Env.Fields, Env.Vectors), and a bad entry is a ConfigError at the fields list.
func TestConfigVectorFields(t *testing.T) {
	cfg, err := Parse("v.yaml", []byte("site: s\nfields:\n  - t\n  - acc[3]\ninput: {type: test}\nstore: {type: test}\nsummarize: {type: test}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"t", "acc0", "acc1", "acc2"}; !slices.Equal(cfg.Fields(), want) {
		t.Errorf("Fields() = %q, want %q", cfg.Fields(), want)
	}
	if want := []Vector{{Name: "acc", Start: 1, Width: 3}}; !slices.Equal(cfg.Vectors(), want) {
		t.Errorf("Vectors() = %+v, want %+v", cfg.Vectors(), want)
	}
	p, err := Build(cfg, Env{})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if env := lastSink.env; !slices.Equal(env.Fields, cfg.Fields()) || !slices.Equal(env.Vectors, cfg.Vectors()) {
		t.Fatalf("Build gave the components fields %q and vectors %+v", env.Fields, env.Vectors)
	}

	errs := Lint("v.yaml", []byte("site: s\nfields: [a, \"b[0]\", a]\ninput: {type: test}\nstore: {type: test}\nsummarize: {type: test}\n"))
	want := []string{
		`v.yaml:2:9: fields: "b[0]": the width of a vector field is an integer from 1 to 65536`,
		`v.yaml:2:9: fields: "a" is listed twice`,
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if errs[i].Error() != w {
			t.Errorf("error %d = %q, want %q", i, errs[i].Error(), w)
		}
	}
}
