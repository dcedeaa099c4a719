package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

// TestRunModelPushHotSwap runs the demo pipeline with model sync on, and pushes a new
// model with `edgepipe model push` while a sensor stream plays: every reading is stored
// once, those scored before the swap carry the shipped model's version and those after it
// the pushed model's; a corrupt file is refused by push.
func TestRunModelPushHotSwap(t *testing.T) {
	bin := buildBinary(t)
	broker, ns, tmp := startEmbedded(t)

	// Model A is the shipped model; B is A with other thresholds, so another version.
	a, err := models.Load("../../configs/demo.model")
	if err != nil {
		t.Fatal(err)
	}
	modelPath, pushPath, dbPath := filepath.Join(tmp, "m.model"), filepath.Join(tmp, "new.model"), filepath.Join(tmp, "e.db")
	if err := a.Save(modelPath); err != nil {
		t.Fatal(err)
	}
	b, err := models.Load(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	meta := b.Meta()
	meta.Thresholds = map[string]float64{"": 1}
	b.SetMeta(meta)
	if err := b.Save(pushPath); err != nil {
		t.Fatal(err)
	}
	// The demo pipeline, with model sync of its model file in the nats output.
	demo, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(demo), "  format: msgpack\n") {
		t.Fatal("configs/demo.yaml no longer ends with the nats output; adapt this test")
	}
	conf := filepath.Join(tmp, "sync.yaml")
	if err := os.WriteFile(conf, append(demo, "  model_file: ${EDGEPIPE_MODEL}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"EDGEPIPE_MQTT_URL=" + broker.URL(), "EDGEPIPE_NATS_URL=" + ns.URL(), "EDGEPIPE_DB=" + dbPath,
		"EDGEPIPE_MODEL=" + modelPath, "EDGEPIPE_SITE=swap", "EDGEPIPE_CLIENT_ID=edgepipe-swap"}
	run, _, logs := startRun(t, bin, conf, env)

	streams, err := datasets.ReadNABDir(oneStream(t, "ec2_request_latency_system_failure"))
	if err != nil {
		t.Fatal(err)
	}
	published := replayAsync(t, broker.URL(), "swap-replay", 1000, streams)
	waitFor(t, 30*time.Second, "500 stored readings", func() bool { return storedCount(t, dbPath) >= 500 })

	corrupt, err := os.ReadFile(pushPath)
	if err != nil {
		t.Fatal(err)
	}
	corrupt[len(corrupt)-2] ^= 1
	corruptPath := filepath.Join(tmp, "corrupt.model")
	if err := os.WriteFile(corruptPath, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	push := func(file string) (string, error) {
		out, err := exec.Command(bin, "model", "push", "--nats", ns.URL(), "--site", "swap", file).CombinedOutput()
		return string(out), err
	}
	if out, err := push(corruptPath); err == nil || !strings.Contains(out, "version hash mismatch") {
		t.Fatalf("push of a corrupt file: %v\n%s", err, out)
	}
	out, err := push(pushPath)
	if err != nil || !strings.Contains(out, "pushed model demo version "+b.Meta().Version) {
		t.Fatalf("model push: %v\n%s", err, out)
	}
	waitFor(t, 30*time.Second, "the swap", func() bool {
		return logs.count("model swapped from "+a.Meta().Version+" to "+b.Meta().Version) == 1
	})
	if n := <-published; n != 4032 {
		t.Fatalf("published %d, want 4032", n)
	}
	waitFor(t, 60*time.Second, "4032 stored readings", func() bool { return storedCount(t, dbPath) >= 4032 })
	stopRun(t, run)

	counts, seq := modelVersions(t, dbPath)
	total := counts[""] + counts[a.Meta().Version] + counts[b.Meta().Version]
	if total != 4032 || len(counts) != 3 || counts[""] != 15 {
		t.Errorf("stored readings by model version %v: want 4032 in all, 15 unscored (the window filling), the rest by the two models", counts)
	}
	if len(seq) != 2 || seq[0] != a.Meta().Version || seq[1] != b.Meta().Version {
		t.Errorf("model versions in event-time order %v, want %s then %s", seq, a.Meta().Version, b.Meta().Version)
	}
	if got, _ := models.Load(modelPath); got == nil || got.Meta().Version != b.Meta().Version {
		t.Error("the model file does not hold the pushed model")
	}
}
