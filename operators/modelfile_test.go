package operators

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// aeModel is an autoencoder over temp and hum with a window of 2 (input width 4) whose
// weights come from seed and whose default scaler has the given means.
func aeModel(t *testing.T, seed int64, meanTemp, meanHum float64) *models.Dense {
	t.Helper()
	d, err := models.NewDense([]int{4, 3, 4}, []models.Activation{models.ActTanh, models.ActLinear}, seed)
	if err != nil {
		t.Fatal(err)
	}
	d.SetMeta(models.Meta{Name: "ae", Kind: models.KindAutoencoder, Features: []string{"temp", "hum"}, Window: 2,
		Scalers:    map[string]models.Scaler{"": {Mean: []float64{meanTemp, meanHum}, Std: []float64{5, 10}}},
		Thresholds: map[string]float64{"": 0.5}})
	return d
}

func save(t *testing.T, d *models.Dense, path string) {
	t.Helper()
	if err := d.Save(path); err != nil {
		t.Fatal(err)
	}
}

func TestModelFileReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ae.model")
	a, b := aeModel(t, 1, 20, 50), aeModel(t, 2, 21, 55)
	save(t, a, path)
	var logs syncBuffer
	m := pipeline.NewMetrics()
	f, err := OpenModelFile(path, slog.New(slog.NewTextHandler(&logs, nil)), m)
	if err != nil {
		t.Fatal(err)
	}
	version := func() string { return f.Current().Meta().Version }
	swaps := func(result string) float64 { return testutil.ToFloat64(m.ModelSwaps.WithLabelValues(result)) }
	info := func(d *models.Dense) float64 {
		return testutil.ToFloat64(m.ModelInfo.WithLabelValues(d.Meta().Name, d.Meta().Version))
	}
	if version() != a.Meta().Version || info(a) != 1 {
		t.Fatalf("opened version %s (info %v), want %s", version(), info(a), a.Meta().Version)
	}

	// The same model again: nothing happens.
	if err := f.Reload(); err != nil || swaps("ok")+swaps("rejected") != 0 {
		t.Fatalf("reload of the same file: %v, swaps ok %v rejected %v", err, swaps("ok"), swaps("rejected"))
	}

	save(t, b, path)
	if err := f.Reload(); err != nil || version() != b.Meta().Version || swaps("ok") != 1 {
		t.Fatalf("reload of a new model: %v, version %s, ok %v", err, version(), swaps("ok"))
	}
	if want := "model swapped from " + a.Meta().Version + " to " + b.Meta().Version; !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, logs.String())
	}
	if info(b) != 1 || testutil.CollectAndCount(m.ModelInfo) != 1 {
		t.Errorf("model info: new %v, %d series; want 1 and only the new model", info(b), testutil.CollectAndCount(m.ModelInfo))
	}

	// Each bad replacement is rejected with its reason; the swapped-in model keeps serving.
	var good bytes.Buffer
	if err := a.Encode(&good); err != nil {
		t.Fatal(err)
	}
	other := aeModel(t, 3, 20, 50)
	meta := other.Meta()
	meta.Features, meta.Window = []string{"hum", "temp"}, 2
	other.SetMeta(meta)
	var otherBytes bytes.Buffer
	if err := other.Encode(&otherBytes); err != nil {
		t.Fatal(err)
	}
	for i, c := range []struct {
		name, want string
		data       []byte // nil: remove the file
	}{
		{"truncated", "truncated", good.Bytes()[:good.Len()-7]},
		{"corrupt", "version hash mismatch", bytes.Replace(good.Bytes(), []byte("temp"), []byte("tamp"), 1)},
		{"incompatible", `reads features ["hum" "temp"], the running model "ae" reads ["temp" "hum"]`, otherBytes.Bytes()},
		{"removed", "no such file", nil},
	} {
		if c.data == nil {
			err = os.Remove(path)
		} else {
			err = os.WriteFile(path, c.data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		err := f.Reload()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error naming %s and containing %q", c.name, err, path, c.want)
		}
		if version() != b.Meta().Version || swaps("rejected") != float64(i+1) || swaps("ok") != 1 {
			t.Errorf("%s: serving %s, rejected %v, ok %v; want %s, %d, 1", c.name, version(), swaps("rejected"), swaps("ok"), b.Meta().Version, i+1)
		}
	}
	if n := strings.Count(logs.String(), "model file rejected; the running model keeps serving"); n != 4 {
		t.Errorf("%d rejections logged, want 4:\n%s", n, logs.String())
	}
}

// TestNormalizeFollowsInferSwap builds normalize and infer naming one file from a config:
// a swap through infer changes the scalers normalize applies.
func TestNormalizeFollowsInferSwap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ae.model")
	save(t, aeModel(t, 1, 20, 50), path)
	cfg, err := pipeline.Parse(filepath.Join(dir, "p.yaml"), []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	env := &pipeline.Env{Site: "s1", Fields: cfg.Fields(), Dir: dir, Shared: new(sync.Map)}
	ops := map[string]any{}
	for _, c := range cfg.Pipeline {
		if ops[c.Spec.Name], err = c.Spec.Build(c, env); err != nil {
			t.Fatal(err)
		}
	}
	norm, infer := ops["normalize"].(pipeline.Operator), ops["infer"].(*Infer)
	rec := func() *pipeline.Record {
		r := pipeline.NewRecord("t", nil, time.Time{}, nil)
		r.Device, r.Values = "d", []float64{25, 60}
		return r
	}
	if got := runOp(t, norm, rec())[0].Features; !sameFloats(got, []float64{1, 1}) {
		t.Fatalf("features before the swap %v, want [1 1] ((25−20)/5, (60−50)/10)", got)
	}
	save(t, aeModel(t, 2, 15, 40), path)
	if err := infer.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := runOp(t, norm, rec())[0].Features; !sameFloats(got, []float64{2, 2}) {
		t.Errorf("features after the swap %v, want [2 2] ((25−15)/5, (60−40)/10)", got)
	}
	fixed, err := NewInfer(newHalf(), InferOptions{MaxBatch: 1, Workers: 1, Queue: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fixed.Reload(); err == nil || !strings.Contains(err.Error(), "not loaded from a file") {
		t.Errorf("Reload of an infer built by NewInfer: %v, want an error", err)
	}
}
