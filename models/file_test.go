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

func TestDecodeRejects(t *testing.T) {
	d := sampleModel(t)
	var buf bytes.Buffer
	if err := d.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	i := bytes.Index(flipped, []byte("train_rows")) - 20 // inside the last layer's parameters
	flipped[i] ^= 0x01
	wrongShape := d.toFile()
	wrongShape.Layers[1].B = wrongShape.Layers[1].B[:3]
	badShape, _ := encodeFile(wrongShape)
	// Give the bad-shape file a correct hash, so the shape check is what rejects it.
	wrongShape.Meta.Version = hashOf(badShape)
	badShape, _ = encodeFile(wrongShape)
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"truncated", "truncated", good[:len(good)/2]},
		{"empty", "truncated", nil},
		{"bad hash", "version hash mismatch", flipped},
		{"trailing", "trailing bytes", append(bytes.Clone(good), 0xc0)},
		{"not msgpack", "corrupt", []byte{0xc1, 0, 0}},
		{"bad shape", "layer 1: 3 biases, want 4", badShape},
	} {
		_, err := Decode(bytes.NewReader(c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
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
