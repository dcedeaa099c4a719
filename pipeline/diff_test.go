package pipeline

import (
	"reflect"
	"strings"
	"testing"
)

const diffBase = `
site: lab
fields: [v]
buffer: 64
input: {type: test, count: 5}
pipeline:
  - {type: scale, scale: 2}
  - {type: scale, scale: 3}
store: {type: test}
summarize: {type: test}
`

// TestChangesNamesTheKeysThatDiffer edits a pipeline file in several ways and checks the
// keys Changes reports, in file order, by name only.
func TestChangesNamesTheKeysThatDiffer(t *testing.T) {
	parse := func(s string) *Config {
		t.Helper()
		c, err := Parse("p.yaml", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := parse(diffBase)
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{"nothing", "", "", nil},
		{"a default written out", "buffer: 64\n", "buffer: 64\nname: edgepipe\n", nil},
		{"top-level keys", "buffer: 64\n", "buffer: 32\nlog_level: debug\n", []string{"buffer", "log_level"}},
		{"a source field", "count: 5}", "count: 6}", []string{"input.count"}},
		{"the second of two operators of one type", "scale: 3}", "scale: 4}", []string{"pipeline.scale#2.scale"}},
		{"an operator added", "  - {type: scale, scale: 3}\n", "  - {type: scale, scale: 3}\n  - {type: scale, scale: 1}\n", []string{"pipeline"}},
		{"the fields", "fields: [v]\n", "fields: [v, w]\n", []string{"fields"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := parse(strings.Replace(diffBase, tc.from, tc.to, 1))
			if got := Changes(base, next); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Changes = %q, want %q", got, tc.want)
			}
		})
	}
}

func init() {
	Register(Spec{Kind: KindOutput, Name: "secrettest", Fields: []Field{
		{Name: "url", Type: TypeString, Description: "URLs"},
		{Name: "token", Type: TypeString, Secret: true, Description: "token"},
	}, Build: func(c *Conf, env *Env) (any, error) { return nil, nil }})
}

// TestSecretsFindsPasswordsAndURLUserInfo checks Config.Secrets on a file with a secret
// field, a URL with a password and a comma-separated list of URLs, one percent-encoded.
func TestSecretsFindsPasswordsAndURLUserInfo(t *testing.T) {
	cfg, err := ParseEnv("p.yaml", []byte(diffBase+`
output:
  type: secrettest
  url: nats://a:pw-one@h1:4222, nats://b:p%40ss@h2:4222,nats://h3:4222
  token: ${TOKEN}
`), func(k string) (string, bool) { return "tok-1234", k == "TOKEN" })
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Secrets()
	want := []string{"pw-one", "p@ss", "p%40ss", "tok-1234"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Secrets = %q, want %q", got, want)
	}
}
