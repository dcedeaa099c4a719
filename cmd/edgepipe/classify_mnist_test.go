package main

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"gonum.org/v1/gonum/mat"

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

// MNIST test images through configs/mnist.yaml with embedded MQTT, SQLite and
// JetStream, classified by a small model trained here (784→32 ReLU→10 softmax on 2,000
// training images, a few seconds): 600 images from camera1 as msgpack objects {"ts",
// "px": [784], "digit"} and 40 from camera2 as bare msgpack arrays of 784 pixels, plus
// three broken messages. Every image is stored once with its 784 pixels and a label —
// the model's prediction for that image —, the objects with their true digit, the bare
// arrays at their arrival time; inference ran in batches of more than one row; the
// broken messages are dead letters with their reasons; the per-minute summaries' label
// counts add up to the images, and they carry no per-pixel statistics.
func TestClassifyMNISTEndToEnd(t *testing.T) {
	dir, err := datasets.MNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := datasets.LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	model := trainSmallMNIST(t, train, 2000)
	modelPath := filepath.Join(t.TempDir(), "mnist-small.model")
	if err := model.Save(modelPath); err != nil {
		t.Fatal(err)
	}
	meta := model.Meta()

	const nObject, nBare = 600, 40
	r := startClassifier(t, "mnist", map[string]string{"EDGEPIPE_MODEL": modelPath})
	start := time.Now().UTC()
	objects, err := mqttconn.MNISTMessages(test, "cameras/camera1/image", false)
	if err != nil {
		t.Fatal(err)
	}
	bare, err := mqttconn.MNISTMessages(test, "cameras/camera2/image", true)
	if err != nil {
		t.Fatal(err)
	}
	broken := []mqttconn.Message{
		{Topic: "cameras/camera2/image", Payload: mustPack(t, make([]int, 783))},
		{Topic: "cameras/camera1/image", Payload: mustPack(t, map[string]any{"ts": start.UnixMilli(), "px": append(make([]any, 783), "x")})},
		{Topic: "cameras/camera1/image", Payload: []byte(`{"px": [1, 2]}`)},
	}
	r.publish(t, "mnist-replay", nObject+nBare+len(broken), func(k int, at time.Time) mqttconn.Message {
		switch {
		case k < nObject:
			return objects(k, at)
		case k < nObject+nBare:
			return bare(k, at) // images 600 … 639
		}
		return broken[k-nObject-nBare]
	})
	sums := r.stop(t, int64(nObject+nBare+len(broken)))
	end := time.Now().UTC() // every image has arrived

	// Offline: the model's prediction for each image published.
	px := make([][]float64, nObject+nBare)
	key := map[string]int{} // pixels → test image index
	for i := range px {
		px[i] = make([]float64, len(test.Images[i]))
		for j, p := range test.Images[i] {
			px[i][j] = float64(p) / 255
		}
		key[string(test.Images[i])] = i
	}
	want, tie := predictions(model, px)

	rows := storedRows(t, r.db)
	if len(rows) != nObject+nBare {
		t.Fatalf("stored %d images, want %d", len(rows), nObject+nBare)
	}
	seen := map[int]bool{}
	correct, ties := 0, 0
	for _, inf := range rows {
		if len(inf.Values) != 785 {
			t.Fatalf("%s at %v: %d values stored, want 785", inf.Device, inf.Time, len(inf.Values))
		}
		img := make([]byte, 784)
		for j, v := range inf.Values[:784] {
			img[j] = byte(v)
		}
		i, ok := key[string(img)]
		if !ok || seen[i] {
			t.Fatalf("%s at %v: the stored pixels are not a published image, or stored twice", inf.Device, inf.Time)
		}
		seen[i] = true
		digit := inf.Values[784]
		switch {
		case i < nObject && (inf.Device != "camera1" || digit != float64(test.Labels[i])):
			t.Errorf("image %d: device %s, digit %v; want camera1, %d", i, inf.Device, digit, test.Labels[i])
		case i >= nObject && (inf.Device != "camera2" || !math.IsNaN(digit) || inf.Time.Before(start) || inf.Time.After(end)):
			t.Errorf("image %d: device %s, digit %v, time %v; want camera2, missing, the arrival time in [%v, %v]", i, inf.Device, digit, inf.Time, start, end)
		}
		if inf.Model != meta.Version {
			t.Errorf("image %d: scored by %q, want %s", i, inf.Model, meta.Version)
		}
		if inf.Label == fmt.Sprint(test.Labels[i]) {
			correct++
		}
		switch {
		case tie[i]:
			ties++
		case inf.Label != meta.Classes[want[i]]:
			t.Errorf("image %d: stored label %q, the model predicts %q", i, inf.Label, meta.Classes[want[i]])
		}
	}
	acc := float64(correct) / float64(len(rows))
	batch := meanBatch(t, r.metrics)
	t.Logf("mnist (small model): %d of %d stored labels correct (%.1f%%), %d near ties; mean batch %.1f rows; %d summaries",
		correct, len(rows), 100*acc, ties, batch, len(sums))
	if acc < 0.8 {
		t.Errorf("accuracy %.3f of the small model from the store, want ≥ 0.8", acc)
	}
	if batch <= 1 {
		t.Errorf("mean inference batch %.2f rows, want > 1", batch)
	}
	if got := checkLabelCounts(t, sums, meta.Classes); got != nObject+nBare {
		t.Errorf("summaries count %d images, want %d", got, nObject+nBare)
	}
	dead := 0
	for _, s := range sums {
		dead += s.DeadLetters
		if len(s.Fields) != 0 { // stats: [] in configs/mnist.yaml
			t.Errorf("%s window %d: statistics of %d fields, want none", s.Device, s.StartMs, len(s.Fields))
		}
	}
	if dead != 2 { // the third broken message has no event time: in no window
		t.Errorf("summaries count %d dead letters, want 2", dead)
	}
	reasons := deadReasons(t, r.db)
	wantReasons := []string{
		`decode: array: 783 values, want 784 (px[784])`,
		`decode: field "px" element 783: "x" is not a number`,
		`decode: invalid msgpack: `,
	}
	if len(reasons) != len(wantReasons) || !slices.EqualFunc(reasons, wantReasons, strings.HasPrefix) {
		t.Errorf("dead letters %q, want %q", reasons, wantReasons)
	}
}

// trainSmallMNIST trains a 784→32 ReLU→10 softmax classifier on the first n training
// images (pixels / 255, the model's scaler), 4 epochs of Adam, with the metadata the
// pipeline needs: features px000 … px783, classes "0" … "9".
func trainSmallMNIST(t *testing.T, train datasets.MNIST, n int) *models.Dense {
	t.Helper()
	x := mat.NewDense(n, 784, nil)
	for i := range n {
		for j, p := range train.Images[i] {
			x.Set(i, j, float64(p)/255)
		}
	}
	y, err := models.OneHot(train.Labels[:n], 10)
	if err != nil {
		t.Fatal(err)
	}
	fit := models.DefaultFitOptions()
	fit.Epochs, fit.BatchSize = 4, 32
	m, _, err := models.Train(x, y, []models.LayerSpec{{Width: 32, Activation: models.ActReLU}, {Width: 10, Activation: models.ActSoftmax}},
		models.LossCrossEntropy, fit, nil)
	if err != nil {
		t.Fatal(err)
	}
	meta := models.Meta{Name: "mnist-small", Kind: models.KindClassifier, Window: 1, TrainRows: n,
		Scalers: map[string]models.Scaler{"": {Mean: make([]float64, 784), Std: make([]float64, 784)}}}
	for j := range 784 {
		meta.Features = append(meta.Features, fmt.Sprintf("px%03d", j))
		meta.Scalers[""].Std[j] = 255
	}
	for c := range 10 {
		meta.Classes = append(meta.Classes, fmt.Sprint(c))
	}
	m.SetMeta(meta)
	return m
}

func mustPack(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
