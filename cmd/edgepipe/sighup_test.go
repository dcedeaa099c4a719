package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

// TestRunSIGHUPReloadsModelAndLogLevel runs the demo pipeline with the model file watch
// off while a stream plays, replaces the model file (the file alone changes nothing),
// edits the config file (log_level: debug, which is applied, and drain_timeout, which
// needs a restart) and sends SIGHUP: the new model serves from then on, the log level
// changes, the log says drain_timeout needs a restart, and every one of the 4,032
// readings is stored exactly once, those scored before the reload by the old model and
// those after by the new one.
func TestRunSIGHUPReloadsModelAndLogLevel(t *testing.T) {
	bin := buildBinary(t)
	broker, ns, tmp := startEmbedded(t)

	a, err := models.Load("../../configs/demo.model")
	if err != nil {
		t.Fatal(err)
	}
	modelPath, dbPath := filepath.Join(tmp, "m.model"), filepath.Join(tmp, "e.db")
	if err := a.Save(modelPath); err != nil {
		t.Fatal(err)
	}
	b, err := models.Load(modelPath)
	if err != nil {
		t.Fatal(err)
	}
	meta := b.Meta()
	meta.Thresholds = map[string]float64{"": 1} // new thresholds: another version
	b.SetMeta(meta)

	demo, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	const workers = "    workers: 2\n"
	if !strings.Contains(string(demo), workers) {
		t.Fatal("configs/demo.yaml no longer sets infer's workers as this test expects; adapt it")
	}
	text := strings.Replace(string(demo), workers, workers+"    watch: false\n", 1)
	conf := filepath.Join(tmp, "hup.yaml")
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"EDGEPIPE_MQTT_URL=" + broker.URL(), "EDGEPIPE_NATS_URL=" + ns.URL(), "EDGEPIPE_DB=" + dbPath,
		"EDGEPIPE_MODEL=" + modelPath, "EDGEPIPE_SITE=hup", "EDGEPIPE_CLIENT_ID=edgepipe-hup"}
	run, _, logs := startRun(t, bin, conf, env)

	streams, err := datasets.ReadNABDir(oneStream(t, "ec2_request_latency_system_failure"))
	if err != nil {
		t.Fatal(err)
	}
	published := replayAsync(t, broker.URL(), "hup-replay", 1000, streams)
	waitFor(t, 30*time.Second, "500 stored readings", func() bool { return storedCount(t, dbPath) >= 500 })
	if err := b.Save(modelPath); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // twice the watch's quiet time: a watch would have swapped by now
	if n := logs.count("model swapped"); n != 0 {
		t.Fatalf("the model was swapped without SIGHUP (watch: false)")
	}
	text = "log_level: debug\ndrain_timeout: 45s\n" + text
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the reload", func() bool { return logs.count("SIGHUP: reload done") == 1 })
	for _, want := range [][]string{
		{"level=INFO", "model swapped from " + a.Meta().Version + " to " + b.Meta().Version},
		{"level=INFO", "log level changed", "from=INFO", "to=DEBUG"},
		{"level=WARN", "config key drain_timeout changed: restart edgepipe to apply it"},
		{"SIGHUP: reload done", "log_level=DEBUG", "restart_needed=[drain_timeout]"},
	} {
		if logs.count(want...) != 1 {
			t.Errorf("no log line with %q", want)
		}
	}
	if n := <-published; n != 4032 {
		t.Fatalf("published %d, want 4032", n)
	}
	waitFor(t, 60*time.Second, "4032 stored readings", func() bool { return storedCount(t, dbPath) >= 4032 })
	stopRun(t, run)

	counts, seq := modelVersions(t, dbPath)
	if total := counts[""] + counts[a.Meta().Version] + counts[b.Meta().Version]; total != 4032 || len(counts) != 3 || counts[""] != 15 {
		t.Errorf("stored readings by model version %v: want 4032 in all, 15 unscored (the window filling), the rest by the two models", counts)
	}
	if len(seq) != 2 || seq[0] != a.Meta().Version || seq[1] != b.Meta().Version {
		t.Errorf("model versions in event-time order %v, want %s then %s", seq, a.Meta().Version, b.Meta().Version)
	}
}
