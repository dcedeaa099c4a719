package natsconn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/connectors/embedded"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
)

// testModel is an autoencoder over temp and hum, window 2, with weights from seed.
func testModel(t *testing.T, seed int64, features ...string) *models.Dense {
	t.Helper()
	d, err := models.NewDense([]int{4, 3, 4}, []models.Activation{models.ActTanh, models.ActLinear}, seed)
	if err != nil {
		t.Fatal(err)
	}
	if features == nil {
		features = []string{"temp", "hum"}
	}
	d.SetMeta(models.Meta{Name: "ae", Kind: models.KindAutoencoder, Features: features, Window: 2,
		Scalers: map[string]models.Scaler{"": {Mean: []float64{20, 50}, Std: []float64{5, 10}}}})
	return d
}

func encoded(t *testing.T, d *models.Dense) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := d.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// syncConfig is testConfig with model sync of path for site plant-1.
func syncConfig(url, path string) config {
	cfg := testConfig(url)
	cfg.modelFile, cfg.modelBucket, cfg.site = path, DefaultModelBucket, "plant-1"
	return cfg
}

// waitVersion waits until the file at path holds the model version want.
func waitVersion(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		d, err := models.Load(path)
		if err == nil && d.Meta().Version == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("model file %s: version %v (err %v) after %s, want %s", path, d.Meta().Version, err, waitFor, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCount waits until the pushes counter of result reaches n.
func waitCount(t *testing.T, m *pipeline.Metrics, result string, n float64) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for metricValue(t, m.ModelPushes.WithLabelValues(result)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("model pushes %s: %v after %s, want %v", result, metricValue(t, m.ModelPushes.WithLabelValues(result)), waitFor, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestModelSyncPush pushes models while a gateway syncs: a push for its site replaces the
// file atomically; a push for another site, a corrupt object and an incompatible model
// leave it byte for byte as it was.
func TestModelSyncPush(t *testing.T) {
	s := startServer(t)
	path := filepath.Join(t.TempDir(), "ae.model")
	a, b := testModel(t, 1), testModel(t, 2)
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	r := startForwarder(t, syncConfig(s.URL(), path), newMemOutbox())
	_, js := connect(t, s.URL())
	ctx := context.Background()

	if err := PushModel(ctx, js, DefaultModelBucket, "plant-1", b); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, path, b.Meta().Version)
	waitCount(t, r.env.Metrics, "written", 1)
	obs, err := js.ObjectStore(ctx, DefaultModelBucket)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := obs.GetInfo(ctx, "plant-1"); err != nil || info.Metadata["version"] != b.Meta().Version || info.Metadata["name"] != "ae" {
		t.Errorf("object info %+v, %v; want metadata name ae, version %s", info, err, b.Meta().Version)
	}
	if !strings.Contains(r.logs.String(), "nats: pushed model written") {
		t.Errorf("logs lack the write:\n%s", r.logs.String())
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, encoded(t, b)) {
		t.Fatal("the file is not the pushed model's encoding")
	}

	if err := PushModel(ctx, js, DefaultModelBucket, "plant-2", testModel(t, 3)); err != nil {
		t.Fatal(err)
	}
	// A corrupt object (PushModel only pushes a decoded model), then an incompatible model.
	corrupt := bytes.Clone(encoded(t, testModel(t, 4)))
	corrupt[len(corrupt)-2] ^= 1
	if _, err := obs.PutBytes(ctx, "plant-1", corrupt); err != nil {
		t.Fatal(err)
	}
	waitCount(t, r.env.Metrics, "rejected", 1)
	if err := PushModel(ctx, js, DefaultModelBucket, "plant-1", testModel(t, 5, "hum", "temp")); err != nil {
		t.Fatal(err)
	}
	waitCount(t, r.env.Metrics, "rejected", 2)
	if now, _ := os.ReadFile(path); !bytes.Equal(now, want) {
		t.Error("a rejected push or another site's push changed the model file")
	}
	for _, reason := range []string{"version hash mismatch", `reads features [\"hum\" \"temp\"]`} {
		if !strings.Contains(r.logs.String(), reason) {
			t.Errorf("logs lack the rejection %q:\n%s", reason, r.logs.String())
		}
	}
	if n := metricValue(t, r.env.Metrics.ModelPushes.WithLabelValues("written")); n != 1 {
		t.Errorf("written %v, want 1", n)
	}
}

// TestModelSyncOffline: a model pushed while the gateway is down (and its server
// restarted) reaches the gateway when it connects, and a push after a server restart
// reaches it too.
func TestModelSyncOffline(t *testing.T) {
	dir := t.TempDir()
	s, err := embedded.StartNATS(dir)
	if err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	path := filepath.Join(t.TempDir(), "ae.model")
	a, b, c := testModel(t, 1), testModel(t, 2), testModel(t, 3)
	if err := a.Save(path); err != nil {
		t.Fatal(err)
	}
	nc, js := connect(t, s.URL())
	if err := PushModel(context.Background(), js, DefaultModelBucket, "plant-1", b); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Close()

	r := startForwarder(t, syncConfig(s.URL(), path), newMemOutbox())
	time.Sleep(300 * time.Millisecond) // the gateway tries while the server is down
	s2, err := embedded.StartNATSPort(dir, port)
	if err != nil {
		t.Fatal(err)
	}
	waitVersion(t, path, b.Meta().Version)

	s2.Close()
	s3, err := embedded.StartNATSPort(dir, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s3.Close)
	_, js = connect(t, s3.URL())
	if err := PushModel(context.Background(), js, DefaultModelBucket, "plant-1", c); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitVersion(t, path, c.Meta().Version)
	waitCount(t, r.env.Metrics, "written", 2)
	t.Logf("push after a server restart written in %v", time.Since(start))
}
