package natsconn

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/vmihailenco/msgpack/v5"
)

func f64(x float64) *float64 { return &x }

func sampleSummary(site, device string, startMs int64) pipeline.Summary {
	return pipeline.Summary{
		Schema: pipeline.SummarySchema, Version: pipeline.SummaryVersion,
		Site: site, Device: device, StartMs: startMs, EndMs: startMs + 60000, Count: 12,
		Fields: map[string]pipeline.FieldStats{
			"temp": {Mean: f64(21.5), Min: f64(20), Max: f64(23.25), Std: f64(0.75), Missing: 1},
			"hum":  {Missing: 12},
		},
		Scored: 11, Anomalies: 2, MaxScore: f64(0.9), MeanScore: f64(0.125),
		Model: "sha256:abc", DeadLetters: 3,
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	s := sampleSummary("plant-1", "dev.1 *", 1700000000000)
	s.Labels = map[string]int{"ok": 9, "fault": 2}
	for _, format := range []string{FormatMsgpack, FormatJSON} {
		data, ctype, err := EncodeSummary(s, format)
		if err != nil {
			t.Fatal(err)
		}
		wantType := map[string]string{FormatMsgpack: ContentTypeMsgpack, FormatJSON: ContentTypeJSON}[format]
		if ctype != wantType {
			t.Fatalf("%s: content type %q, want %q", format, ctype, wantType)
		}
		// With the content type, and sniffed without it.
		for _, ct := range []string{ctype, ""} {
			got, err := DecodeSummary(data, ct)
			if err != nil {
				t.Fatalf("%s (ct %q): %v", format, ct, err)
			}
			if !reflect.DeepEqual(got, s) {
				t.Fatalf("%s (ct %q): round trip\n got %+v\nwant %+v", format, ct, got, s)
			}
		}
	}
}

func TestEncodeWireShape(t *testing.T) {
	s := sampleSummary("s", "d", 1000)
	data, _, err := EncodeSummary(s, FormatMsgpack)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := msgpack.Unmarshal(data, &m); err != nil {
		t.Fatalf("msgpack payload is not a map: %v", err)
	}
	if m["schema"] != "edgepipe.summary" || m["device"] != "d" || fmt.Sprint(m["start_ms"]) != "1000" {
		t.Fatalf("msgpack map keys/values: %v", m)
	}
	if v, ok := m["mean_score"]; !ok || v != 0.125 {
		t.Fatalf("mean_score = %v (present %v), want 0.125", v, ok)
	}
	hum := m["fields"].(map[string]any)["hum"].(map[string]any)
	if v, ok := hum["mean"]; !ok || v != nil {
		t.Fatalf("fields.hum.mean = %v (present %v), want nil", v, ok)
	}
	js, _, err := EncodeSummary(s, FormatJSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"schema":"edgepipe.summary"`, `"start_ms":1000`, `"end_ms":61000`, `"hum":{"mean":null,"min":null,"max":null,"std":null,"missing":12}`} {
		if !strings.Contains(string(js), want) {
			t.Fatalf("JSON %s lacks %s", js, want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	other, _, _ := EncodeSummary(pipeline.Summary{Schema: "other", Version: 1}, FormatMsgpack)
	future, _, _ := EncodeSummary(pipeline.Summary{Schema: pipeline.SummarySchema, Version: pipeline.SummaryVersion + 1}, FormatJSON)
	cases := map[string]struct {
		data  []byte
		ctype string
		want  string
	}{
		"not msgpack":   {[]byte{0xc1}, "", "msgpack"},
		"bad json":      {[]byte(`{"schema":`), "", "json"},
		"json by type":  {[]byte(`[1]`), "application/json; charset=utf-8", "json"},
		"other schema":  {other, ContentTypeMsgpack, `schema "other"`},
		"newer version": {future, ContentTypeJSON, "version 2"},
		"empty":         {nil, "", "decode summary"},
	}
	for name, c := range cases {
		if _, err := DecodeSummary(c.data, c.ctype); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	if _, _, err := EncodeSummary(pipeline.Summary{}, "xml"); err == nil {
		t.Error("EncodeSummary with format xml succeeded")
	}
}
