package models

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

func sampleModel(t *testing.T) *Dense {
	t.Helper()
	d, err := NewDense([]int{4, 3, 4}, []Activation{ActTanh, ActLinear}, 5)
	if err != nil {
		t.Fatal(err)
	}
	d.SetMeta(Meta{
		Name: "ae", Kind: KindAutoencoder, Version: "ignored", Features: []string{"temp", "hum"}, Window: 2,
		Scalers: map[string]Scaler{
			"":   {Mean: []float64{20, 50}, Std: []float64{2, 10}},
			"s1": {Mean: []float64{21, 40}, Std: []float64{1, 1}},
			"s2": {Mean: []float64{19, 60}, Std: []float64{3, 5}},
		},
		Thresholds:  map[string]float64{"": 0.5, "s1": 0.25, "s2": math.Inf(1)},
		TrainedFrom: time.Date(2014, 1, 2, 3, 4, 5, 0, time.UTC), TrainedTo: time.Date(2014, 2, 2, 3, 4, 5, 0, time.UTC),
		TrainRows: 1500,
	})
	return d
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	d := sampleModel(t)
	if v := d.Meta().Version; len(v) != 16 || v == "ignored" {
		t.Fatalf("SetMeta version %q, want a 16-hex content hash", v)
	}
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes()[:1], []byte{0x84}) { // fixmap of 4 keys
		t.Errorf("file starts %x, want a 4-key msgpack map", buf.Bytes()[:1])
	}
	got, err := Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Meta(), d.Meta()) {
		t.Errorf("meta\n got %+v\nwant %+v", got.Meta(), d.Meta())
	}
	for l := range d.layers {
		if !mat.Equal(got.layers[l].W, d.layers[l].W) || !reflect.DeepEqual(got.layers[l].B, d.layers[l].B) || got.layers[l].Act != d.layers[l].Act {
			t.Errorf("layer %d differs", l)
		}
	}
	// Encoding is deterministic (map keys sorted), so re-encoding gives the same bytes.
	var again bytes.Buffer
	if err := got.Encode(&again); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("re-encoding differs (err %v)", err)
	}
}

func TestSaveLoad(t *testing.T) {
	d := sampleModel(t)
	path := filepath.Join(t.TempDir(), "model.msgpack")
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
	if err := d.Save(path); err != nil { // overwrite
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files in the folder, want only the model (no temp left)", len(entries))
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta().Version != d.Meta().Version {
		t.Errorf("loaded version %s, want %s", got.Meta().Version, d.Meta().Version)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// rehashed encodes sampleModel's file form after mut, with a correct content hash, so
// that the check under test (not the hash) is what rejects it.
func rehashed(t *testing.T, mut func(f *fileModel)) []byte {
	t.Helper()
	f := sampleModel(t).toFile()
	mut(&f)
	b, err := encodeFile(f)
	if err != nil {
		t.Fatal(err)
	}
	f.Meta.Version = hashOf(b)
	if b, err = encodeFile(f); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRejects(t *testing.T) {
	d := sampleModel(t)
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)-2] ^= 0x01 // inside the last bias, the last float64 of the file
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "truncated", good[:len(good)/2]},
		{"empty", "truncated", nil},
		{"bad hash", "version hash mismatch", flipped},
		{"trailing", "trailing bytes", append(bytes.Clone(good), 0xc0)},
		{"not msgpack", "corrupt", []byte{0xc1, 0, 0}},
		{"damaged key", `corrupt model file: msgpack: unknown field "clawses"`, bytes.Replace(good, []byte("classes"), []byte("clawses"), 1)},
		{"other format", `format "onnx", want "edgepipe-model"`, rehashed(t, func(f *fileModel) { f.Format = "onnx" })},
		{"newer format version", "format version 2 not supported (this build reads 1..1)", rehashed(t, func(f *fileModel) { f.FormatVersion = 2 })},
		{"format version 0", "format version 0 not supported", rehashed(t, func(f *fileModel) { f.FormatVersion = 0 })},
		{"no layers", "no layers", rehashed(t, func(f *fileModel) { f.Layers = nil })},
		{"unknown activation", `layer 0: unknown activation "swish"`, rehashed(t, func(f *fileModel) { f.Layers[0].Act = "swish" })},
		{"zero width", "layer 0: shape 0×3, want positive widths", rehashed(t, func(f *fileModel) { f.Layers[0].In, f.Layers[0].W = 0, nil })},
		{"weight count", "layer 0: 11 weights, want 4×3 = 12", rehashed(t, func(f *fileModel) { f.Layers[0].W = f.Layers[0].W[:11] })},
		{"bias count", "layer 1: 3 biases, want 4", rehashed(t, func(f *fileModel) { f.Layers[1].B = f.Layers[1].B[:3] })},
		{"W rows ≠ previous width", "layer 1: input width 2, previous layer outputs 3", rehashed(t, func(f *fileModel) {
			f.Layers[1].In, f.Layers[1].W = 2, make([]float64, 2*4)
		})},
		{"NaN weight", "layer 1: non-finite weight NaN at row 2, column 1", rehashed(t, func(f *fileModel) { f.Layers[1].W[2*4+1] = math.NaN() })},
		{"infinite bias", "layer 0: non-finite bias +Inf at column 2", rehashed(t, func(f *fileModel) {
			f.Layers[0].B = []float64{0, 0, math.Inf(1)}
		})},
		{"unknown kind", `unknown kind "regressor"`, rehashed(t, func(f *fileModel) { f.Meta.Kind = "regressor" })},
		{"autoencoder widths", "autoencoder maps 4 inputs to 3 outputs", rehashed(t, func(f *fileModel) {
			f.Layers[1].Out, f.Layers[1].W, f.Layers[1].B = 3, make([]float64, 3*3), make([]float64, 3)
		})},
		{"classes ≠ outputs", "classifier has 3 classes and 4 outputs", rehashed(t, func(f *fileModel) {
			f.Meta.Kind, f.Meta.Classes = string(KindClassifier), []string{"a", "b", "c"}
		})},
		{"window × features ≠ input", "window 3 × 2 features = 6, but the input width is 4", rehashed(t, func(f *fileModel) { f.Meta.Window = 3 })},
		{"features ≠ input", "window 2 × 3 features = 6, but the input width is 4", rehashed(t, func(f *fileModel) {
			f.Meta.Features = []string{"temp", "hum", "co2"}
		})},
		{"scaler width", `scaler "s1": 1 means and 2 stds for 2 features`, rehashed(t, func(f *fileModel) {
			f.Meta.Scalers["s1"] = fileScaler{Mean: []float64{21}, Std: []float64{1, 1}}
		})},
		{"zero std", `scaler "s2" field 1: mean 60 std 0`, rehashed(t, func(f *fileModel) {
			f.Meta.Scalers["s2"] = fileScaler{Mean: []float64{19, 60}, Std: []float64{3, 0}}
		})},
		{"NaN threshold", `threshold "s1" is NaN`, rehashed(t, func(f *fileModel) {
			f.Meta.Thresholds = sortedMap[float64]{"s1": math.NaN()}
		})},
	} {
		_, err := Decode(bytes.NewReader(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	if _, err := Decode(bytes.NewReader(rehashed(t, func(*fileModel) {}))); err != nil {
		t.Errorf("the unmodified re-hashed file is rejected: %v", err)
	}
}

// TestDecodeRejectsEveryDamage cuts the file at every length and flips every byte: each
// damaged file is rejected, none is read as some other model.
func TestDecodeRejectsEveryDamage(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleModel(t).Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for n := range len(good) {
		if _, err := Decode(bytes.NewReader(good[:n])); err == nil || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("cut to %d of %d bytes: error %v, want truncated", n, len(good), err)
		}
	}
	for i := range good {
		for _, mask := range []byte{0x01, 0x80} {
			bad := bytes.Clone(good)
			bad[i] ^= mask
			if _, err := Decode(bytes.NewReader(bad)); err == nil {
				t.Fatalf("byte %d of %d xor %#x: accepted", i, len(good), mask)
			}
		}
	}
}

func TestLoadErrorNamesTheFile(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleModel(t).Encode(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.model")
	if err := os.WriteFile(path, buf.Bytes()[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), "truncated (100 bytes)") {
		t.Errorf("Load: %v, want an error starting with the path and saying truncated (100 bytes)", err)
	}
}

func TestMetaLookups(t *testing.T) {
	m := sampleModel(t).Meta()
	if s, ok := m.ScalerFor("s1"); !ok || s.Mean[0] != 21 {
		t.Errorf("ScalerFor(s1) = %v, %v", s, ok)
	}
	if s, ok := m.ScalerFor("other"); !ok || s.Mean[0] != 20 {
		t.Errorf("ScalerFor(other) = %v, %v, want the default", s, ok)
	}
	if m.ThresholdFor("s1") != 0.25 || m.ThresholdFor("other") != 0.5 {
		t.Errorf("ThresholdFor: %v %v", m.ThresholdFor("s1"), m.ThresholdFor("other"))
	}
	var empty Meta
	if _, ok := empty.ScalerFor("x"); ok || !math.IsInf(empty.ThresholdFor("x"), 1) {
		t.Error("empty meta: want no scaler and +Inf threshold")
	}
}
