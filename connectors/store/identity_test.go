package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
)

// Device ids with subject and SQL metacharacters, unicode, quotes, an SQL injection and
// 10,000 bytes are stored verbatim (parameterised SQL) and read back equal, each under
// its own id only.
func TestSinkStoresDeviceIDsVerbatim(t *testing.T) {
	ids := []string{"a.b", "*", ">", "dev 1", "room/3", "température", "温度计", `"quoted"`, "it's",
		"'; DROP TABLE inferences; --", "%", "_", "a%", strings.Repeat("x", 10000)}
	path := dbPath(t)
	var a acks
	recs := make([]*pipeline.Record, len(ids))
	for i, id := range ids {
		recs[i] = a.rec(id, time.Duration(i)*time.Second, float64(i))
	}
	runAll(t, path, testEnv(nil), recs...)
	db := openRO(t, path)
	for i, id := range ids {
		var got []Inference
		if err := db.Inferences(context.Background(), QueryOptions{Device: id}, func(in Inference) error {
			got = append(got, in)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Device != id || got[0].Values[0] != float64(i) || !got[0].Time.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("device %.40q: read back %d readings %+v, want one with value %d", id, len(got), got, i)
		}
	}
	if c := counts(t, path); c.Inferences != int64(len(ids)) {
		t.Fatalf("counts %+v, want %d readings", c, len(ids))
	}
}
