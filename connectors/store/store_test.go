package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgepipe/edgepipe/pipeline"
)

// Stub input and summarize specs so that a whole pipeline file parses in this package.
func init() {
	stub := func(*pipeline.Conf, *pipeline.Env) (any, error) { return nil, errors.New("stub") }
	pipeline.Register(pipeline.Spec{Kind: pipeline.KindInput, Name: "store_test_stub", Build: stub})
	pipeline.Register(pipeline.Spec{Kind: pipeline.KindSummarize, Name: "store_test_stub", Build: stub})
}

func parseStore(t *testing.T, store string) (*pipeline.Config, error) {
	t.Helper()
	doc := "site: plant1\nfields: [temp]\ninput: {type: store_test_stub}\nsummarize: {type: store_test_stub}\nstore:\n" + store
	return pipeline.Parse("test.yaml", []byte(doc))
}

func TestBuildFromConfig(t *testing.T) {
	cfg, err := parseStore(t, "  type: sqlite\n  path: data/edge.db\n  synchronous: NORMAL\n")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := cfg.Store
	got, err := c.Spec.Build(c, &pipeline.Env{Dir: dir, Metrics: pipeline.NewMetrics()})
	if err != nil {
		t.Fatal(err)
	}
	s := got.(*Sink)
	defer s.Close()
	var _ pipeline.Sink = s
	var _ pipeline.OutboxProvider = s
	if s.batch != 1024 {
		t.Fatalf("batch = %d, want the default 1024", s.batch)
	}
	var sync int
	if err := s.db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 1 {
		t.Fatalf("synchronous = %d (%v), want 1 (NORMAL)", sync, err)
	}
	if _, err := Open(filepath.Join(dir, "data", "edge.db")); err != nil {
		t.Fatalf("database not created relative to the config folder: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := parseStore(t, "  type: sqlite\n  path: x.db\n  synchronous: OFF\n"); err == nil || !strings.Contains(err.Error(), "synchronous") {
		t.Fatalf("synchronous OFF: %v", err)
	}
	if _, err := parseStore(t, "  type: sqlite\n"); err == nil || !strings.Contains(err.Error(), `"path"`) {
		t.Fatalf("missing path: %v", err)
	}
	_, err := parseStore(t, "  type: sqlite\n  path: x.db\n  batch: 0\n")
	if err == nil || !strings.HasPrefix(err.Error(), "test.yaml:8:10: store sqlite: batch: 0 is below the minimum 1") {
		t.Fatalf("batch 0: %v", err)
	}
}
