package main

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
)

// oneStream copies one shipped NAB recording into a folder of its own for --data.
func oneStream(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := fs.ReadFile(datasets.NAB, datasets.NABDir+"/"+name+".csv")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkDemo replays one real stream through the whole pipeline and checks delivery:
// every published reading is stored exactly once, the summaries' counts add up to the
// stored readings, the subscriber received every summary exactly once, and the outbox
// is empty at the end, and the plots the report names exist. The run's debug log and its
// report are written to out.
func checkDemo(t *testing.T, o demoOptions, out io.Writer) {
	const stream = "ec2_request_latency_system_failure"
	o.data = oneStream(t, stream)
	tmp := t.TempDir()
	o.db = filepath.Join(tmp, "edgepipe.db")
	o.model = filepath.Join(tmp, "demo.model")
	o.speed = "max"
	ctx := context.Background()
	r, err := runDemo(ctx, o, slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	var printed bytes.Buffer
	r.print(io.MultiWriter(out, &printed))
	// The report names the plots' index, beside the database, with the stream's picture.
	if want := filepath.Join(tmp, "edgepipe-report", "index.html"); r.plots != want || !regexp.MustCompile(`(?m)^  plots +`+regexp.QuoteMeta(want)+` `).MatchString(printed.String()) {
		t.Fatalf("plots %q, want %s named in the report:\n%s", r.plots, want, printed.String())
	}
	for _, f := range []string{r.plots, filepath.Join(tmp, "edgepipe-report", stream+".png")} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}

	streams, err := datasets.ReadNABDir(o.data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]float64]int{} // (event time ns, value) → how many rows in the CSV
	for i, ts := range streams[0].Times {
		want[[2]float64{float64(ts.UnixNano()), streams[0].Values[i]}]++
	}
	db, err := store.Open(o.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[[2]float64]int{}
	n := 0
	err = db.Inferences(ctx, store.QueryOptions{}, func(inf store.Inference) error {
		if inf.Device != stream {
			t.Errorf("device %q", inf.Device)
		}
		got[[2]float64{float64(inf.Time.UnixNano()), inf.Values[0]}]++
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.in.published != 4032 || n != 4032 {
		t.Fatalf("published %d, stored %d; want 4032 each", r.in.published, n)
	}
	for k, c := range want {
		if got[k] != c {
			t.Fatalf("reading at %v value %v stored %d times, want %d", k[0], k[1], got[k], c)
		}
	}
	c, err := db.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.DeadLetters != 0 || c.Summarized != c.Inferences || c.Outbox != 0 {
		t.Fatalf("counts %+v: want no dead letters, summaries covering every reading, empty outbox", c)
	}
	// ec2_request_latency spans 2014-03-07 03:41 to 2014-03-21 03:41 UTC: 15 daily windows.
	if c.Summaries != 15 {
		t.Fatalf("%d summaries, want 15", c.Summaries)
	}
	if r.in.counts.received.Load() != c.Summaries || r.in.counts.duplicates.Load() != 0 {
		t.Fatalf("subscriber received %d (duplicates %d), want %d once each", r.in.counts.received.Load(), r.in.counts.duplicates.Load(), c.Summaries)
	}
}

func TestDemoEndToEndEmbedded(t *testing.T) {
	checkDemo(t, demoOptions{site: "e2e", mqttListen: "127.0.0.1:0"}, io.Discard)
}

// Off localhost the embedded broker needs credentials from the environment; the demo
// then runs with them end to end, and the password appears in none of its log lines
// (debug level) nor in its report.
func TestDemoBrokerBeyondLocalhost(t *testing.T) {
	t.Setenv(envMQTTUsername, "")
	t.Setenv(envMQTTPassword, "")
	_, err := runDemo(context.Background(), demoOptions{site: "open", mqttListen: "0.0.0.0:0", speed: "max", data: oneStream(t, "ec2_request_latency_system_failure"), db: filepath.Join(t.TempDir(), "x.db")}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), envMQTTPassword) {
		t.Fatalf("demo on 0.0.0.0 without credentials: err = %v, want a refusal naming %s", err, envMQTTPassword)
	}

	const password = "pw-7f3a9c-do-not-print"
	t.Setenv(envMQTTUsername, "gateway")
	t.Setenv(envMQTTPassword, password)
	var out bytes.Buffer
	checkDemo(t, demoOptions{site: "lan", mqttListen: "0.0.0.0:0"}, &out)
	if out.Len() == 0 || !strings.Contains(out.String(), "stored") {
		t.Fatalf("no log or report captured: %q", out.String())
	}
	if strings.Contains(out.String(), password) {
		t.Fatalf("the MQTT password appears in the demo's output:\n%s", out.String())
	}
}

// configs/demo.model (used by `edgepipe run -c configs/demo.yaml`) is what `make model`
// trains: training is seeded, so the shipped file must match the code.
func TestShippedDemoModelIsReproducible(t *testing.T) {
	shipped, err := models.Load("../../configs/demo.model")
	if err != nil {
		t.Fatal(err)
	}
	streams, err := datasets.ReadNABDir("")
	if err != nil {
		t.Fatal(err)
	}
	m, err := trainStreams(streams, models.DefaultAnomalyOptions(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Meta().Version, shipped.Meta().Version; got != want {
		t.Fatalf("trained version %s, shipped %s: run make model", got, want)
	}
}
