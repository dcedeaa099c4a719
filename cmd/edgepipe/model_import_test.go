package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgepipe/edgepipe/models"
)

const onnxTestdata = "../../models/testdata/onnx"

// runModelImport runs `edgepipe model import` with args and returns its standard output.
func runModelImport(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCommand(modelImportCmd(), args...)
}

func TestModelImportClassifier(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cls.model")
	stdout, err := runModelImport(t, "--onnx", filepath.Join(onnxTestdata, "classifier.onnx"), "--out", out,
		"--kind", "classifier", "--features", "a,b,c,d,e", "--classes", "low,mid,high",
		"--mean", "1,2,3,4,5", "--std", "2,2,2,2,0.5")
	if err != nil {
		t.Fatal(err, stdout)
	}
	m, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	meta := m.Meta()
	if meta.Name != "classifier" || meta.Kind != models.KindClassifier || meta.Window != 1 ||
		!slices.Equal(meta.Classes, []string{"low", "mid", "high"}) || !slices.Equal(meta.Features, []string{"a", "b", "c", "d", "e"}) {
		t.Errorf("meta %+v", meta)
	}
	if s, ok := meta.ScalerFor("any-device"); !ok || !slices.Equal(s.Mean, []float64{1, 2, 3, 4, 5}) || !slices.Equal(s.Std, []float64{2, 2, 2, 2, 0.5}) {
		t.Errorf("default scaler %+v %v", s, ok)
	}
	if m.InputWidth() != 5 || m.OutputWidth() != 3 {
		t.Errorf("widths %d → %d, want 5 → 3", m.InputWidth(), m.OutputWidth())
	}
	if want := "wrote " + out + ": model classifier version " + meta.Version + ", classifier, 5 → 3, features a,b,c,d,e × window 1\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
}

func TestModelImportAutoencoderWindow(t *testing.T) {
	// mlp3 maps 6 inputs to 6 outputs: 2 features × window 3, identity scaler.
	out := filepath.Join(t.TempDir(), "ae.model")
	if _, err := runModelImport(t, "--onnx", filepath.Join(onnxTestdata, "mlp3.onnx"), "--out", out, "--name", "ae",
		"--kind", "autoencoder", "--features", "t,h", "--threshold", "0.25"); err != nil {
		t.Fatal(err)
	}
	m, err := models.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	meta := m.Meta()
	s, _ := meta.ScalerFor("")
	if meta.Name != "ae" || meta.Window != 3 || meta.ThresholdFor("dev1") != 0.25 ||
		!slices.Equal(s.Mean, []float64{0, 0}) || !slices.Equal(s.Std, []float64{1, 1}) {
		t.Errorf("meta %+v", meta)
	}
}

func TestModelImportRejects(t *testing.T) {
	dir := t.TempDir()
	cls := filepath.Join(onnxTestdata, "classifier.onnx")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--onnx", filepath.Join(onnxTestdata, "conv.onnx"), "--kind", "classifier", "--features", "a"},
			`conv.onnx: models: onnx: Conv node "conv0" (domain ""): unsupported op`},
		{[]string{"--onnx", cls, "--kind", "classifier", "--features", "a,b,c,d,e", "--classes", "x,y"},
			"classifier has 2 classes and 3 outputs"},
		{[]string{"--onnx", cls, "--kind", "classifier", "--features", "a,b", "--classes", "x,y,z"},
			"the network takes 5 inputs, not a multiple of the 2 features"},
		{[]string{"--onnx", cls, "--kind", "classifier", "--features", "a", "--window", "4", "--classes", "x,y,z"},
			"window 4 × 1 features = 4, but the input width is 5"},
		{[]string{"--onnx", cls, "--kind", "autoencoder", "--features", "a,b,c,d,e"},
			"autoencoder maps 5 inputs to 3 outputs"},
		{[]string{"--onnx", cls, "--kind", "regressor", "--features", "a"}, `--kind "regressor": want classifier or autoencoder`},
		{[]string{"--onnx", cls, "--kind", "classifier", "--features", "a,b,c,d,e", "--classes", "x,y,z", "--std", "1,1,0,1,1"},
			"field 2: mean 0 std 0"},
		{[]string{"--onnx", cls, "--kind", "classifier", "--features", "a,b,c,d,e", "--classes", "x,y,z", "--threshold", "1"},
			"--threshold is for an autoencoder"},
	} {
		out := filepath.Join(dir, "m.model")
		_, err := runModelImport(t, append(c.args, "--out", out)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
		if _, err := models.Load(out); err == nil {
			t.Errorf("%v: a model file was written", c.args)
		}
	}
}
