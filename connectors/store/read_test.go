package store

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// storeThree stores three readings (two devices, one missing value, one unscored
// classifier result) and returns the database path.
func storeThree(t *testing.T) string {
	path := dbPath(t)
	var a acks
	r1 := a.rec("d1", 0, 21.5, math.NaN())
	r2 := a.rec("d2", 500*time.Millisecond, 19.25, 40)
	r2.Anomaly, r2.Score = true, 3.5
	r3 := a.rec(`d"1,x`, time.Second, 1e-7, 2e21)
	r3.Score, r3.Label, r3.Model = math.NaN(), "idle", ""
	runAll(t, path, testEnv(nil), r1, r2, r3)
	return path
}

func TestInferencesFilters(t *testing.T) {
	db := openRO(t, storeThree(t))
	ctx := context.Background()
	collect := func(o QueryOptions) []Inference {
		var out []Inference
		if err := db.Inferences(ctx, o, func(i Inference) error { out = append(out, i); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := collect(QueryOptions{})
	if len(all) != 3 || all[0].Device != "d1" || all[1].Device != "d2" || all[2].Device != `d"1,x` {
		t.Fatalf("all = %+v, want d1, d2, d\"1,x in time order", all)
	}
	if !all[0].Time.Equal(t0) || all[0].Time.Location() != time.UTC || all[0].Values[0] != 21.5 || !math.IsNaN(all[0].Values[1]) || all[0].Score != 0.25 {
		t.Fatalf("first = %+v", all[0])
	}
	if !all[1].Anomaly || all[1].Score != 3.5 || !math.IsNaN(all[2].Score) || all[2].Label != "idle" {
		t.Fatalf("rows = %+v", all)
	}
	if got := collect(QueryOptions{Device: "d2"}); len(got) != 1 || got[0].Values[1] != 40 {
		t.Fatalf("device d2 = %+v", got)
	}
	if got := collect(QueryOptions{Since: t0.Add(500 * time.Millisecond), Until: t0.Add(time.Second)}); len(got) != 1 || got[0].Device != "d2" {
		t.Fatalf("[0.5 s, 1 s) = %+v, want only d2", got)
	}
	if got := collect(QueryOptions{Limit: 2}); len(got) != 2 {
		t.Fatalf("limit 2 returned %d rows", len(got))
	}
	c, err := db.Counts(ctx)
	if err != nil || c != (Counts{Inferences: 3}) {
		t.Fatalf("counts %+v, %v", c, err)
	}
}

func TestQueryCSVAndJSON(t *testing.T) {
	db := openRO(t, storeThree(t))
	ctx := context.Background()
	var b bytes.Buffer
	n, err := Query(ctx, db, &b, FormatCSV, []string{"temp", "hum"}, QueryOptions{})
	if err != nil || n != 3 {
		t.Fatalf("Query csv = %d, %v", n, err)
	}
	wantCSV := `device,ts,temp,hum,score,anomaly,label,model
d1,2024-03-01T12:00:00Z,21.5,,0.25,false,,m1
d2,2024-03-01T12:00:00.5Z,19.25,40,3.5,true,,m1
"d""1,x",2024-03-01T12:00:01Z,1e-07,2e+21,,false,idle,
`
	if b.String() != wantCSV {
		t.Fatalf("csv:\n%s\nwant:\n%s", b.String(), wantCSV)
	}
	b.Reset()
	if _, err := Query(ctx, db, &b, FormatJSON, []string{"temp"}, QueryOptions{Device: "d1"}); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"device":"d1","ts":"2024-03-01T12:00:00Z","temp":21.5,"score":0.25,"anomaly":false,"label":"","model":"m1"}` + "\n"
	if b.String() != wantJSON {
		t.Fatalf("json:\n%s\nwant:\n%s", b.String(), wantJSON)
	}
	if _, err := Query(ctx, db, &b, "xml", nil, QueryOptions{}); err == nil || !strings.Contains(err.Error(), "xml") {
		t.Fatalf("unknown format error = %v", err)
	}
}

func TestOpenRejectsMissingAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "none.db")); err == nil {
		t.Fatal("Open of a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "none.db")); !os.IsNotExist(err) {
		t.Fatal("Open created the missing file")
	}
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(other); err == nil || !strings.Contains(err.Error(), "not an edgepipe database") {
		t.Fatalf("Open of an empty file = %v, want not an edgepipe database", err)
	}
}

// Outbox lists the waiting summaries in the order they were written (the forwarder's
// order), with device and window start decoded from the payload.
func TestOutboxListsEntriesOldestFirst(t *testing.T) {
	path := dbPath(t)
	s := openSink(t, path, testEnv(nil))
	ctx := context.Background()
	var sums []pipeline.Summary
	for i, dev := range []string{"b", "a", "c.d"} {
		sums = append(sums, pipeline.Summary{Schema: pipeline.SummarySchema, Version: pipeline.SummaryVersion, Site: "plant1",
			Device: dev, StartMs: 60000 * int64(i+1), EndMs: 60000 * int64(i+2), Count: 1})
	}
	if err := s.summarize(ctx, sums); err != nil {
		t.Fatal(err)
	}
	pending, err := s.Outbox().Pending(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Outbox().Remove(ctx, []int64{pending[0].ID}); err != nil { // "b" was forwarded
		t.Fatal(err)
	}
	s.Close()
	var got []OutboxEntry
	if err := openRO(t, path).Outbox(ctx, func(e OutboxEntry) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].MsgID != "plant1/a/120000" || got[0].Device != "a" || got[0].StartMs != 120000 ||
		got[1].MsgID != "plant1/c.d/180000" || got[1].Device != "c.d" || got[1].StartMs != 180000 ||
		got[0].ID >= got[1].ID || got[0].Created.IsZero() || got[0].Created.Location() != time.UTC {
		t.Fatalf("outbox = %+v, want plant1/a/120000 then plant1/c.d/180000", got)
	}
}
