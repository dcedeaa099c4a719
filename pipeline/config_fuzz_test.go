package pipeline

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/edgepipe/edgepipe/configs"
)

// fuzzFile is the file name FuzzParse passes; every error must carry it.
const fuzzFile = "fuzz.yaml"

// FuzzParse feeds arbitrary bytes to Parse and Lint (which also builds, in dry-run mode,
// the test components registered in engine_test.go): neither may panic, a nil error from
// Parse comes with a config, and every error is a ConfigError naming fuzz.yaml at line ≥ 1
// and column ≥ 1. Seeds: the shipped configs/*.yaml (their components are not registered
// here, so they exercise the error paths), good and broken files of the test components.
// Run it with go test -run '^$' -fuzz FuzzParse ./pipeline; crashers land in
// testdata/fuzz/FuzzParse and run with every go test.
func FuzzParse(f *testing.F) {
	shipped, err := fs.Glob(configs.FS, "*.yaml")
	if err != nil || len(shipped) == 0 {
		f.Fatalf("configs: %v files, error %v", shipped, err)
	}
	for _, name := range shipped {
		data, err := fs.ReadFile(configs.FS, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"site: s\nfields: [v]\ninput: {type: test, count: 3}\npipeline: [{type: scale, scale: 2}]\nstore: {type: test}\nsummarize: {type: test}\n",
		"site: ${EP_FUZZ_SITE:-w}\nfields: [a, b]\nbuffer: 8\ndrain_timeout: 1s\nwatchdog: 0s\ninput: {type: test}\nstore: {type: stuck}\nsummarize: {type: test}\noutput: {type: idle}\n",
		"site: s\nfields: [v, v]\nbuffer: 0\ninput: {type: test, count: -1}\npipeline:\n  - {type: scale, scale: 2, colour: red}\nstore: {type: test}\nsummarize: {type: test}\n",
		"site: s\nfields: [v]\ninput: &in {type: test}\nstore: *in\nsummarize: {<<: *in, type: test}\npipeline: [*in, {type: nosuch}, 3]\n",
		"site: ${UNSET_EP_FUZZ}\nfields: []\nfields: {a: 1}\ninput: [test]\n",
		"site: s\nfields: [v]\ninput: {type: test, count: 1e999}\npipeline: {type: scale}\nstore: {type: test, type: test}\n",
		"", "\n\n", "[1, 2]", "--- \n...\n", "a: b\n\tc: d\n", "site: \"unterminated\n", "? [a]\n: b\n", "%YAML 1.2\n---\nsite: s\n",
		"input:\n  type: test\n  count: !!int 0x10\n", "site: !!binary aGVsbG8=\nfields: [!!null ~]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(fuzzFile, data)
		if err == nil && cfg == nil {
			t.Fatal("Parse: no config and no error")
		}
		if err != nil {
			var ces ConfigErrors
			if !errors.As(err, &ces) || len(ces) == 0 {
				t.Fatalf("Parse: %T %v, want ConfigErrors", err, err)
			}
			checkConfigErrors(t, "Parse", ces)
		}
		checkConfigErrors(t, "Lint", Lint(fuzzFile, data))
	})
}

// checkConfigErrors fails t unless every error is non-nil and at fuzz.yaml:≥1:≥1.
func checkConfigErrors(t *testing.T, what string, errs ConfigErrors) {
	t.Helper()
	for i, e := range errs {
		if e == nil {
			t.Fatalf("%s: error %d is nil", what, i)
		}
		if e.Pos.File != fuzzFile || e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
			t.Fatalf("%s: error %d at %s: %q, want %s:≥1:≥1 and a message", what, i, e.Pos, e.Msg, fuzzFile)
		}
	}
}
