package mqtt

import (
	"strings"
	"testing"

	"github.com/edgepipe/edgepipe/pipeline"
)

func init() {
	// Stand-ins for the sections a pipeline file must have, so this package's tests can
	// parse one; the real components live in other packages.
	stub := func(*pipeline.Conf, *pipeline.Env) (any, error) { return nil, nil }
	pipeline.Register(pipeline.Spec{Kind: pipeline.KindStore, Name: "stub", Build: stub})
	pipeline.Register(pipeline.Spec{Kind: pipeline.KindSummarize, Name: "stub", Build: stub})
}

func TestBuildFromConfig(t *testing.T) {
	c, err := tryBuild("  type: mqtt\n  url: tcp://127.0.0.1:1883\n  topics: [sensors/+/reading]\n  client_id: gw1\n")
	if err != nil {
		t.Fatal(err)
	}
	o := c.(*Source).opts
	if o.QoS != 1 || o.CleanSession || o.KeepAlive != DefaultKeepAlive || o.ConnectRetry != DefaultConnectRetry || o.ClientID != "gw1" || o.Topics[0] != "sensors/+/reading" {
		t.Fatalf("options = %+v, want the defaults qos 1, persistent session, 30s keepalive, 10s retry", o)
	}

	bad := map[string]string{
		"qos: 2":                   "qos: 2 is above the maximum 1",
		"url: http://h:1":          `scheme "http"`,
		"topics: [a/#/b]":          "# must be the whole last level",
		"topics: [a/b+]":           "+ must be a whole level",
		"keepalive: 100ms":         "shorter than 1s",
		"client_id: \"  \"":        "must not be empty",
		"topics: []":               "at least one topic filter",
		"connect_retry: 0s":        "must be positive",
		"url: tcp://h:1\n  url: x": "duplicate key",
	}
	for line, want := range bad {
		fields := map[string]string{"url": "url: tcp://h:1", "topics": "topics: [t]", "client_id": "client_id: c"}
		key := line[:strings.IndexByte(line, ':')]
		fields[key] = line
		yaml := "  type: mqtt\n"
		for _, f := range []string{"url", "topics", "client_id"} {
			yaml += "  " + fields[f] + "\n"
		}
		if _, ok := map[string]bool{"url": true, "topics": true, "client_id": true}[key]; !ok {
			yaml += "  " + line + "\n"
		}
		_, err := tryBuild(yaml)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", line, err, want)
		}
	}
}

// tryBuild parses and builds, returning a parse or build error.
func tryBuild(input string) (any, error) {
	cfg, err := pipeline.Parse("test.yaml", []byte("site: s\nfields: [value]\nstore: {type: stub}\nsummarize: {type: stub}\ninput:\n"+input))
	if err != nil {
		return nil, err
	}
	return cfg.Input.Spec.Build(cfg.Input, testEnv())
}
