package operators

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// base is the start of a one-minute window: 1699999980 s = 28333333 × 60 s.
var base = time.Unix(1699999980, 0).UTC()

func newTumbling(t *testing.T, lateness time.Duration, closeOnDrain bool) *Tumbling {
	t.Helper()
	s, err := NewTumbling(TumblingOptions{Site: "plant-1", Fields: []string{"temp", "hum"}, Window: time.Minute, Lateness: lateness, CloseOnDrain: closeOnDrain})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reading is a committed reading of device dev at base+sec.
func reading(dev string, sec float64, temp, hum float64) *pipeline.Record {
	r := pipeline.NewRecord("s/"+dev, nil, time.Time{}, nil)
	r.Device, r.Time, r.Values = dev, base.Add(time.Duration(sec*float64(time.Second))), []float64{temp, hum}
	return r
}

func deadAt(dev string, sec float64) *pipeline.Record {
	r := reading(dev, sec, 0, 0)
	r.Values = nil
	return r.Fail("decode: field \"temp\": \"x\" is not a number")
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func TestTumblingWindowStatistics(t *testing.T) {
	s := newTumbling(t, 0, false)
	nan := math.NaN()
	recs := []*pipeline.Record{reading("a", 1, 1, 10), reading("a", 2, 2, nan), reading("a", 3, 3, 30), reading("a", 4, 4, nan)}
	for i, sc := range []float64{0.5, nan, 1.5, 3} {
		recs[i].Score = sc
		if !math.IsNaN(sc) {
			recs[i].Model = "v" + string(rune('1'+i))
		}
	}
	recs[3].Anomaly = true
	if out := s.Add(append(recs, deadAt("a", 5))); len(out) != 0 {
		t.Fatalf("closed %d windows before the watermark passed, want 0", len(out))
	}
	// 59.999 s: the watermark is still before the window's end.
	if out := s.Add([]*pipeline.Record{reading("a", 59.999, nan, nan)}); len(out) != 0 {
		t.Fatalf("closed at 59.999 s: %+v", out)
	}
	out := s.Add([]*pipeline.Record{reading("a", 60, 9, 9)})
	if len(out) != 1 {
		t.Fatalf("closed %d windows at the end, want 1", len(out))
	}
	w := out[0]
	if w.Schema != pipeline.SummarySchema || w.Version != pipeline.SummaryVersion || w.Site != "plant-1" || w.Device != "a" ||
		w.StartMs != base.UnixMilli() || w.EndMs != base.UnixMilli()+60000 {
		t.Errorf("header %+v", w)
	}
	if w.Count != 5 || w.Scored != 3 || w.Anomalies != 1 || w.DeadLetters != 1 || w.Model != "v4" || w.Labels != nil {
		t.Errorf("counts: count %d scored %d anomalies %d dead %d model %q labels %v; want 5 3 1 1 v4 nil",
			w.Count, w.Scored, w.Anomalies, w.DeadLetters, w.Model, w.Labels)
	}
	// temp 1, 2, 3, 4 (and one missing): mean 2.5, population std √1.25 = 1.118034.
	temp := w.Fields["temp"]
	if !near(val(temp.Mean), 2.5) || math.Abs(val(temp.Std)-1.118034) > 1e-6 || val(temp.Min) != 1 || val(temp.Max) != 4 || temp.Missing != 1 {
		t.Errorf("temp: mean %v std %v min %v max %v missing %d", val(temp.Mean), val(temp.Std), val(temp.Min), val(temp.Max), temp.Missing)
	}
	// hum 10, 30: mean 20, std 10; missing 3.
	hum := w.Fields["hum"]
	if !near(val(hum.Mean), 20) || !near(val(hum.Std), 10) || hum.Missing != 3 {
		t.Errorf("hum: mean %v std %v missing %d", val(hum.Mean), val(hum.Std), hum.Missing)
	}
	// scores 0.5, 1.5, 3: max 3, mean 5/3.
	if val(w.MaxScore) != 3 || !near(val(w.MeanScore), 5.0/3) {
		t.Errorf("scores: max %v mean %v", val(w.MaxScore), val(w.MeanScore))
	}
}

func TestTumblingNilStatsWhenEmpty(t *testing.T) {
	s := newTumbling(t, 0, true)
	s.Add([]*pipeline.Record{reading("a", 1, math.NaN(), math.NaN())})
	out := s.Drain()
	if len(out) != 1 {
		t.Fatalf("drained %d, want 1", len(out))
	}
	w := out[0]
	if st := w.Fields["temp"]; st.Mean != nil || st.Std != nil || st.Min != nil || st.Max != nil || st.Missing != 1 {
		t.Errorf("temp stats %+v, want nil pointers and missing 1", st)
	}
	if w.MaxScore != nil || w.MeanScore != nil || w.Scored != 0 {
		t.Errorf("scores %v %v scored %d, want nil nil 0", w.MaxScore, w.MeanScore, w.Scored)
	}
}

func TestTumblingLateness(t *testing.T) {
	s := newTumbling(t, 30*time.Second, false)
	if out := s.Add([]*pipeline.Record{reading("a", 50, 1, 1), reading("a", 70, 2, 2), reading("a", 55, 3, 3)}); len(out) != 0 {
		t.Fatalf("closed with watermark 40 s: %+v", out)
	}
	// 89 s: watermark 59 s, still open; 90 s: watermark 60 s closes [0, 60).
	if out := s.Add([]*pipeline.Record{reading("a", 89, 4, 4)}); len(out) != 0 {
		t.Fatalf("closed with watermark 59 s: %+v", out)
	}
	out := s.Add([]*pipeline.Record{reading("a", 90, 5, 5)})
	if len(out) != 1 || out[0].Count != 2 || val(out[0].Fields["temp"].Mean) != 2 {
		t.Fatalf("got %+v, want one window with readings at 50 s and 55 s (mean temp 2)", out)
	}
	// 10 s is now late: in no summary, and the closed window is not reopened.
	if out := s.Add([]*pipeline.Record{reading("a", 10, 100, 100), deadAt("a", 20)}); len(out) != 0 {
		t.Fatalf("a late reading closed %+v", out)
	}
	out = s.Add([]*pipeline.Record{reading("a", 200, 0, 0)})
	if len(out) != 1 || out[0].StartMs != base.UnixMilli()+60000 || out[0].Count != 3 || out[0].DeadLetters != 0 {
		t.Fatalf("got %+v, want only [60 s, 120 s) with 3 readings", out)
	}
}

func TestTumblingDeadLettersDoNotMoveWatermark(t *testing.T) {
	s := newTumbling(t, 0, true)
	s.Add([]*pipeline.Record{reading("a", 1, 1, 1)})
	if out := s.Add([]*pipeline.Record{deadAt("a", 500), deadAt("a", 2)}); len(out) != 0 {
		t.Fatalf("a dead letter closed %+v", out)
	}
	// A dead letter without a device or time is in no window.
	noDev := pipeline.NewRecord("x", []byte("?"), time.Now(), nil).Fail("decode: empty payload")
	s.Add([]*pipeline.Record{noDev})
	out := s.Drain()
	if len(out) != 2 {
		t.Fatalf("drained %d windows, want 2", len(out))
	}
	if out[0].StartMs != base.UnixMilli() || out[0].Count != 1 || out[0].DeadLetters != 1 {
		t.Errorf("first window %+v, want count 1 dead 1", out[0])
	}
	if out[1].StartMs != base.UnixMilli()+480000 || out[1].Count != 0 || out[1].DeadLetters != 1 {
		t.Errorf("second window %+v, want [480 s, 540 s) count 0 dead 1", out[1])
	}
	if again := s.Drain(); len(again) != 0 {
		t.Errorf("second Drain returned %d windows", len(again))
	}
}

func TestTumblingDrainKeepsWindowsOpenByDefault(t *testing.T) {
	s := newTumbling(t, 0, false)
	s.Add([]*pipeline.Record{reading("a", 1, 1, 1)})
	if out := s.Drain(); out != nil {
		t.Errorf("Drain returned %+v, want nil", out)
	}
	if out := s.Add([]*pipeline.Record{reading("a", 61, 1, 1)}); len(out) != 1 || out[0].Count != 1 {
		t.Errorf("window after Drain: %+v", out)
	}
}

func TestTumblingSortedAndLabels(t *testing.T) {
	s := newTumbling(t, 0, true)
	var recs []*pipeline.Record
	for _, dev := range []string{"b", "a"} {
		for i, label := range []string{"ok", "fault", "ok"} {
			r := reading(dev, float64(i), 1, 1)
			r.Label, r.Score = label, 0.9
			recs = append(recs, r)
		}
	}
	recs = append(recs, reading("b", 61, 1, 1), reading("a", 70, 1, 1), reading("b", 125, 1, 1), reading("a", 130, 1, 1))
	out := s.Add(recs)
	if len(out) != 4 {
		t.Fatalf("closed %d windows, want 4", len(out))
	}
	for i, want := range []struct {
		dev   string
		start int64
	}{{"a", 0}, {"a", 60}, {"b", 0}, {"b", 60}} {
		if out[i].Device != want.dev || out[i].StartMs != base.UnixMilli()+want.start*1000 {
			t.Errorf("summary %d: %s %d, want %s +%d s", i, out[i].Device, out[i].StartMs, want.dev, want.start)
		}
	}
	if l := out[0].Labels; len(l) != 2 || l["ok"] != 2 || l["fault"] != 1 {
		t.Errorf("labels %v, want ok 2 fault 1", l)
	}
}

func TestTumblingOptionErrors(t *testing.T) {
	for _, o := range []TumblingOptions{{Window: 0}, {Window: 1500 * time.Microsecond}, {Window: time.Minute, Lateness: -time.Second}} {
		if _, err := NewTumbling(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestTumblingExtremeValuesStayFinite: finite readings near ±MaxFloat64 overflowed the
// unscaled Welford update (1e308 and −1e308 gave mean −Inf and std NaN, which JSON cannot
// encode); the scaled update keeps every statistic finite, and a statistic that is truly
// infinite (an infinite score) is nil.
func TestTumblingExtremeValuesStayFinite(t *testing.T) {
	s := newTumbling(t, 0, true)
	m := math.MaxFloat64
	recs := []*pipeline.Record{reading("a", 1, 1e308, m), reading("a", 2, -1e308, m), reading("b", 1, 1e-300, -m), reading("b", 2, 3e-300, m)}
	recs[0].Score, recs[1].Score = 1e308, 1e308 // the old running sum overflowed to +Inf
	recs[2].Score, recs[3].Score = 0.5, math.Inf(1)
	s.Add(recs)
	out := s.Drain()
	if len(out) != 2 {
		t.Fatalf("drained %d windows, want 2", len(out))
	}
	a, b := out[0], out[1]
	for _, tc := range []struct {
		name                string
		st                  pipeline.FieldStats
		mean, std, min, max float64
	}{
		{"a temp", a.Fields["temp"], 0, 1e308, -1e308, 1e308},
		{"a hum", a.Fields["hum"], m, 0, m, m},
		{"b temp", b.Fields["temp"], 2e-300, 1e-300, 1e-300, 3e-300},
		{"b hum", b.Fields["hum"], 0, m, -m, m},
	} {
		if !closeTo(val(tc.st.Mean), tc.mean) || !closeTo(val(tc.st.Std), tc.std) || val(tc.st.Min) != tc.min || val(tc.st.Max) != tc.max {
			t.Errorf("%s: mean %v std %v min %v max %v, want %v %v %v %v", tc.name,
				val(tc.st.Mean), val(tc.st.Std), val(tc.st.Min), val(tc.st.Max), tc.mean, tc.std, tc.min, tc.max)
		}
	}
	if val(a.MaxScore) != 1e308 || val(a.MeanScore) != 1e308 {
		t.Errorf("a scores: max %v mean %v, want 1e308 1e308", val(a.MaxScore), val(a.MeanScore))
	}
	if b.Scored != 2 || b.MaxScore != nil || b.MeanScore != nil {
		t.Errorf("b scores: scored %d max %v mean %v, want 2 nil nil", b.Scored, b.MaxScore, b.MeanScore)
	}
	if _, err := json.Marshal(out); err != nil {
		t.Errorf("summaries do not encode as JSON: %v", err)
	}
}

// closeTo reports whether a is within 1e-15 relative of b.
func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-15*math.Abs(b) }
