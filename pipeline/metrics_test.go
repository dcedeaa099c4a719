package pipeline

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricNamesFollowPrometheusConventions runs client_golang's promlint (the checks of
// `promtool check metrics`: _total on counters only, base units in the name, no
// camelCase, help text present…) over every edgepipe metric, each labelled vector given
// one series so that it is exported.
func TestMetricNamesFollowPrometheusConventions(t *testing.T) {
	m := NewMetrics()
	m.DeadLetters.WithLabelValues("decode").Inc()
	m.Connected.WithLabelValues("mqtt").Set(1)
	m.Unscored.WithLabelValues("nonfinite_features").Inc()
	m.ModelSwaps.WithLabelValues("ok").Inc()
	m.ModelPushes.WithLabelValues("written").Inc()
	m.ModelInfo.WithLabelValues("demo", "abc").Set(1)
	m.StageRecords.WithLabelValues("decode").Inc()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"edgepipe_stage_records_total", "edgepipe_e2e_latency_seconds", "edgepipe_outbox_oldest_age_seconds",
		"edgepipe_db_size_bytes", "edgepipe_infer_batch_seconds", "edgepipe_dead_letters_total", "edgepipe_model_info", "process_resident_memory_bytes", "go_goroutines"} {
		if !names[want] {
			t.Errorf("metric %s is not registered", want)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestOutboxOldestAge checks edgepipe_outbox_oldest_age_seconds: the age of the time given
// to SetOutboxOldest at scrape time, and 0 once the outbox is empty.
func TestOutboxOldestAge(t *testing.T) {
	m := NewMetrics()
	age := func() float64 {
		t.Helper()
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "edgepipe_outbox_oldest_age_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no edgepipe_outbox_oldest_age_seconds")
		return 0
	}
	if a := age(); a != 0 {
		t.Fatalf("age with an empty outbox %v, want 0", a)
	}
	m.SetOutboxOldest(time.Now().Add(-90 * time.Second))
	if a := age(); a < 90 || a > 95 {
		t.Fatalf("age of an entry created 90 s ago %v, want 90 s (within the test's run time)", a)
	}
	m.SetOutboxOldest(time.Time{})
	if a := age(); a != 0 {
		t.Fatalf("age after the outbox emptied %v, want 0", a)
	}
}

func TestGaugeValue(t *testing.T) {
	m := NewMetrics()
	m.OutboxDepth.Set(42)
	if v := GaugeValue(m.OutboxDepth); v != 42 {
		t.Fatalf("GaugeValue = %v, want 42", v)
	}
	m.StoreHealthy.Set(0)
	if v := GaugeValue(m.StoreHealthy); v != 0 {
		t.Fatalf("GaugeValue = %v, want 0", v)
	}
}
