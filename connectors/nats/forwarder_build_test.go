package natsconn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// A config file needs input, store and summarize sections; these placeholders are never
// built.
func init() {
	for _, k := range []pipeline.Kind{pipeline.KindInput, pipeline.KindStore, pipeline.KindSummarize} {
		pipeline.Register(pipeline.Spec{Kind: k, Name: "natstest", Build: func(*pipeline.Conf, *pipeline.Env) (any, error) { return nil, nil }})
	}
}

// buildOutput parses a pipeline file whose output section holds the given lines and
// builds the output.
func buildOutput(t *testing.T, dir, output string) (*forwarder, error) {
	t.Helper()
	src := "site: plant-1\nfields: [t]\ninput: {type: natstest}\nstore: {type: natstest}\nsummarize: {type: natstest}\noutput:\n  type: nats\n" + output
	cfg, err := pipeline.Parse("test.yaml", []byte(src))
	if err != nil {
		return nil, err
	}
	env := testEnv(&syncBuffer{})
	env.Dir = dir
	v, err := cfg.Output.Spec.Build(cfg.Output, env)
	if err != nil {
		return nil, err
	}
	f, ok := v.(*forwarder)
	if !ok {
		t.Fatalf("Build returned %T, want a pipeline.Forwarder", v)
	}
	var _ pipeline.Forwarder = f
	return f, nil
}

func TestBuildDefaults(t *testing.T) {
	f, err := buildOutput(t, "", "  url: nats://127.0.0.1:4222\n")
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		url: "nats://127.0.0.1:4222", prefix: "edgepipe", stream: "EDGEPIPE", jetstream: true, format: "msgpack",
		duplicateWindow: time.Hour, maxPending: 256, retryMax: 30 * time.Second, name: "edgepipe-test-plant-1",
		modelBucket: DefaultModelBucket, site: "plant-1", readyOutbox: DefaultReadyOutboxLimit,
	}
	if f.cfg != want {
		t.Fatalf("config\n got %+v\nwant %+v", f.cfg, want)
	}
}

func TestBuildCredsRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "edge.creds"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := buildOutput(t, dir, "  url: tls://a:4222, tls://b:4222\n  creds: edge.creds\n  format: json\n  jetstream: false\n")
	if err != nil {
		t.Fatal(err)
	}
	if f.cfg.creds != filepath.Join(dir, "edge.creds") || f.cfg.format != FormatJSON || f.cfg.jetstream {
		t.Fatalf("config %+v", f.cfg)
	}
}

func TestBuildErrors(t *testing.T) {
	cases := map[string]struct{ output, want string }{
		"missing url":      {"  stream: X\n", `missing required key "url"`},
		"mqtt url":         {"  url: tcp://h:1883\n", "test.yaml:8:8: output nats: url:"},
		"no host":          {"  url: nats://\n", "no host"},
		"empty prefix tok": {"  url: nats://h\n  subject_prefix: a..b\n", `subject_prefix: "a..b": want dot-separated`},
		"wildcard prefix":  {"  url: nats://h\n  subject_prefix: edge.>\n", `subject_prefix: "edge.>"`},
		"bad stream":       {"  url: nats://h\n  stream: a.b\n", `stream: "a.b" is not a valid stream name`},
		"bad format":       {"  url: nats://h\n  format: xml\n", `"xml" is not one of msgpack, json`},
		"zero pending":     {"  url: nats://h\n  max_pending: 0\n", "max_pending: 0 is below the minimum 1"},
		"zero retry":       {"  url: nats://h\n  retry_max: 0s\n", "retry_max"},
		"zero window":      {"  url: nats://h\n  duplicate_window: 0s\n", "duplicate_window"},
		"password only":    {"  url: nats://h\n  password: pw\n", "password: set user"},
		"user and token":   {"  url: nats://h\n  user: u\n  token: tk\n", "use one of"},
		"missing creds":    {"  url: nats://h\n  creds: nope.creds\n", "creds"},
		"model sync core":  {"  url: nats://h\n  jetstream: false\n  model_file: m.model\n", "model_file: model sync needs JetStream (jetstream: true)"},
		"bad model bucket": {"  url: nats://h\n  model_file: m.model\n  model_bucket: a.b\n", `model_bucket: "a.b": want a bucket name`},
		"missing model":    {"  url: nats://h\n  model_file: none.model\n", "none.model: no such file"},
	}
	for name, c := range cases {
		_, err := buildOutput(t, t.TempDir(), c.output)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "tk") && strings.Contains(c.output, "tk") {
			t.Errorf("%s: error prints the token: %v", name, err)
		}
	}
}
