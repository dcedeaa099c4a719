package nabscore

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/edgepipe/edgepipe/datasets"
)

var testLabels = map[string][]datasets.Window{
	"realKnownCause/nyc_taxi.csv":     {{Start: minute(1), End: minute(1)}},
	"realKnownCause/taxi.csv":         nil,
	"artificialNoAnomaly/art_x.csv":   nil,
	"realKnownCause/machine_temp.csv": nil,
}

const resultsCSV = "timestamp,value,anomaly_score,label\n2014-04-01 00:00:00,10844,0.25,0\n2014-04-01 00:01:00,8127.5,1,1\n"

// TestReadResultsLayouts reads NAB's <detector>/<category>/<detector>_<name>.csv layout
// and plain <category>/<name>.csv, skips *_scores.csv, and maps file names to label keys.
func TestReadResultsLayouts(t *testing.T) {
	fsys := fstest.MapFS{
		"res/numenta/realKnownCause/numenta_nyc_taxi.csv":                 {Data: []byte(resultsCSV)},
		"res/numenta/numenta_standard_scores.csv":                         {Data: []byte("Detector,Profile\n")},
		"res/random_cut_forest/realKnownCause/random_cut_forest_taxi.csv": {Data: []byte(resultsCSV)},
		"res/realKnownCause/nyc_taxi.csv":                                 {Data: []byte("timestamp,anomaly_score\n2014-04-01 00:00:00,0.5\n")},
		"res/artificialNoAnomaly/x_art_x.csv":                             {Data: []byte(resultsCSV)},
	}
	got, err := ReadResults(fsys, "res", testLabels)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{}
	for d, files := range got {
		for _, f := range files {
			keys[d] = append(keys[d], f.Key)
		}
	}
	want := map[string][]string{
		"numenta":           {"realKnownCause/nyc_taxi.csv"},
		"random_cut_forest": {"realKnownCause/taxi.csv"},
		"":                  {"artificialNoAnomaly/art_x.csv", "realKnownCause/nyc_taxi.csv"},
	}
	if len(keys) != len(want) {
		t.Fatalf("detectors %v, want %v", keys, want)
	}
	for d, k := range want {
		if strings.Join(keys[d], " ") != strings.Join(k, " ") {
			t.Errorf("detector %q: keys %v, want %v", d, keys[d], k)
		}
	}
	f := got["numenta"][0]
	if len(f.Times) != 2 || !f.Times[1].Equal(minute(1)) || f.Scores[0] != 0.25 || f.Values[1] != 8127.5 {
		t.Errorf("numenta file: %+v", f)
	}
	if plain := got[""][1]; plain.Values != nil || plain.Scores[0] != 0.5 {
		t.Errorf("file without a value column: %+v", plain)
	}
}

// TestReadResultsErrors checks that a file without a label key, a CSV at the wrong depth
// and a bad row are errors naming the file.
func TestReadResultsErrors(t *testing.T) {
	for name, c := range map[string]struct {
		fsys fstest.MapFS
		want string
	}{
		"no key":   {fstest.MapFS{"realKnownCause/numenta_unknown.csv": {Data: []byte(resultsCSV)}}, "realKnownCause/numenta_unknown.csv: no label key realKnownCause/<name>.csv"},
		"depth":    {fstest.MapFS{"a/b/c/d.csv": {Data: []byte(resultsCSV)}}, "a/b/c/d.csv: want <detector>/<category>/<file>.csv or <category>/<file>.csv"},
		"header":   {fstest.MapFS{"realKnownCause/taxi.csv": {Data: []byte("timestamp,value\n")}}, `realKnownCause/taxi.csv:1: header "timestamp,value" lacks timestamp or anomaly_score`},
		"score":    {fstest.MapFS{"realKnownCause/taxi.csv": {Data: []byte("timestamp,anomaly_score\n2014-04-01 00:00:00,x\n")}}, "realKnownCause/taxi.csv:2: anomaly_score"},
		"time":     {fstest.MapFS{"realKnownCause/taxi.csv": {Data: []byte("timestamp,anomaly_score\n2014-04-01T00:00:00Z,0\n")}}, "realKnownCause/taxi.csv:2: timestamp"},
		"same key": {fstest.MapFS{"realKnownCause/taxi.csv": {Data: []byte(resultsCSV)}, "realKnownCause/d_taxi.csv": {Data: []byte(resultsCSV)}}, "a second file for realKnownCause/taxi.csv"},
	} {
		if _, err := ReadResults(c.fsys, ".", testLabels); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

// TestWriteResultsRoundTrip writes a file in NAB's results format and reads it back.
func TestWriteResultsRoundTrip(t *testing.T) {
	f := File{Key: "realKnownCause/nyc_taxi.csv", Times: []time.Time{minute(0), minute(1), minute(2)},
		Values: []float64{10844, 8127.5, 0.1}, Scores: []float64{0.25, 1, 1.0 / 3}}
	var buf bytes.Buffer
	if err := WriteResults(&buf, f, testLabels[f.Key]); err != nil {
		t.Fatal(err)
	}
	want := "timestamp,value,anomaly_score,label\n2014-04-01 00:00:00,10844,0.25,0\n2014-04-01 00:01:00,8127.5,1,1\n2014-04-01 00:02:00,0.1,0.3333333333333333,0\n"
	if buf.String() != want {
		t.Fatalf("wrote\n%s\nwant\n%s", buf.String(), want)
	}
	got, err := ReadResults(fstest.MapFS{"edgepipe/realKnownCause/edgepipe_nyc_taxi.csv": {Data: buf.Bytes()}}, ".", testLabels)
	if err != nil {
		t.Fatal(err)
	}
	g := got["edgepipe"][0]
	for i := range f.Times {
		if !g.Times[i].Equal(f.Times[i]) || g.Values[i] != f.Values[i] || g.Scores[i] != f.Scores[i] {
			t.Errorf("row %d: read %v %v %v, wrote %v %v %v", i, g.Times[i], g.Values[i], g.Scores[i], f.Times[i], f.Values[i], f.Scores[i])
		}
	}
	f.Values = nil
	if err := WriteResults(&buf, f, nil); err == nil {
		t.Error("no values: no error")
	}
}
