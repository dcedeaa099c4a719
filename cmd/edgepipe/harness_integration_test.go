//go:build integration

package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	_ "modernc.org/sqlite" // the test-side connection that holds the write lock

	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	natsconn "github.com/edgepipe/edgepipe/connectors/nats"
	"github.com/edgepipe/edgepipe/connectors/store"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/pipeline"
)

// The harness of issue 3's delivery scenarios, beside servers_integration_test.go (the
// servers) and harness_test.go (the edgepipe process): the config and environment of a
// run, the readings published, and the exactly-once checks of the database and the
// JetStream stream.

// writeConfig writes configs/demo.yaml to dir/pipeline.yaml with insert (whole YAML
// lines) added after its line after, and returns the path.
func writeConfig(t *testing.T, dir, after, insert string) string {
	t.Helper()
	b, err := os.ReadFile(demoConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), after) {
		t.Fatalf("%s has no line %q to add %q after", demoConfig, after, insert)
	}
	path := filepath.Join(dir, "pipeline.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), after, after+insert, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// runEnv is the environment of an `edgepipe run` of the demo pipeline against mq and ns:
// the shipped demo model, the database at dbPath, the site (client id edgepipe-<site>) and
// the topic root it subscribes to (<topicRoot>/+/reading).
func runEnv(t *testing.T, mq, ns *server, dbPath, site, topicRoot string) []string {
	t.Helper()
	model, err := filepath.Abs("../../configs/demo.model")
	if err != nil {
		t.Fatal(err)
	}
	return []string{"EDGEPIPE_MQTT_URL=" + mq.mqttURL(), "EDGEPIPE_NATS_URL=" + ns.natsURL(), "EDGEPIPE_DB=" + dbPath,
		"EDGEPIPE_MODEL=" + model, "EDGEPIPE_SITE=" + site, "EDGEPIPE_CLIENT_ID=edgepipe-" + site, "EDGEPIPE_TOPIC_ROOT=" + topicRoot}
}

// syntheticStreams returns n devices with per readings each, one every step from
// 2024-01-01 UTC, values a slow sine with device-specific offsets: distinct (device,
// time) keys, so exactly-once is checkable.
func syntheticStreams(n, per int, step time.Duration) []datasets.Stream {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]datasets.Stream, n)
	for d := range out {
		s := datasets.Stream{Name: fmt.Sprintf("dev-%03d", d)}
		for i := 0; i < per; i++ {
			s.Times = append(s.Times, t0.Add(time.Duration(i)*step))
			s.Values = append(s.Values, float64(d)+float64(i%60)/10)
		}
		out[d] = s
	}
	return out
}

// sliceStreams returns the readings [from, to) of every stream.
func sliceStreams(streams []datasets.Stream, from, to int) []datasets.Stream {
	out := make([]datasets.Stream, len(streams))
	for i, s := range streams {
		out[i] = datasets.Stream{Name: s.Name, Times: s.Times[from:to], Values: s.Values[from:to]}
	}
	return out
}

// publish sends streams with QoS 1 on <topicRoot>/{device}/reading as client clientID,
// as fast as the broker acknowledges, and returns the number of PUBACKed readings. A
// failure fails the test with t.Errorf, so publish may run in its own goroutine.
func publish(t *testing.T, mqttURL, clientID, topicRoot string, streams []datasets.Stream) int {
	t.Helper()
	st, err := mqttconn.Replay(context.Background(), mqttconn.ReplayOptions{URL: mqttURL, ClientID: clientID,
		Topic: topicRoot + "/{device}/reading", QoS: 1, Streams: streams})
	if err != nil {
		t.Errorf("replay: %v", err)
	}
	return st.Published
}

// readingKey names a reading by device and event time in ms, as "device@ms".
func readingKey(device string, at time.Time) string {
	return fmt.Sprintf("%s@%d", device, at.UnixMilli())
}

// storedKeys returns how many inferences the database at dbPath holds for each reading
// (readingKey).
func storedKeys(t *testing.T, dbPath string) map[string]int {
	t.Helper()
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys := map[string]int{}
	if err := db.Inferences(context.Background(), store.QueryOptions{}, func(inf store.Inference) error {
		keys[readingKey(inf.Device, inf.Time)]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// readingsOnce checks the inferences of the databases at dbPaths, together, against the
// readings of streams: stored is the number of rows, lost the readings with no row,
// duplicated the rows beyond the first of a reading. Rows of no sent reading count in
// stored only, so stored equal to the readings sent with none lost or duplicated means
// each reading is stored exactly once and nothing else.
func readingsOnce(t *testing.T, streams []datasets.Stream, dbPaths ...string) (stored, lost, duplicated int) {
	t.Helper()
	rows := map[string]int{}
	for _, p := range dbPaths {
		for k, n := range storedKeys(t, p) {
			rows[k] += n
			stored += n
		}
	}
	for _, s := range streams {
		for _, at := range s.Times {
			if n := rows[readingKey(s.Name, at)]; n == 0 {
				lost++
			} else {
				duplicated += n - 1
			}
		}
	}
	return stored, lost, duplicated
}

// waitStored waits until the databases at dbPaths (those that exist) together hold at
// least want inferences, failing the test after timeout; it returns the time it waited.
func waitStored(t *testing.T, timeout time.Duration, want int64, dbPaths ...string) time.Duration {
	t.Helper()
	return waitFor(t, timeout, fmt.Sprintf("%d stored readings in %v", want, dbPaths), func() bool {
		var got int64
		for _, p := range dbPaths {
			if _, err := os.Stat(p); err == nil {
				got += storedCount(t, p)
			}
		}
		return got >= want
	})
}

// streamSummaryIDs returns the Nats-Msg-Id of every summary of site in the EDGEPIPE
// stream, in stream sequence order.
func streamSummaryIDs(t *testing.T, natsURL, site string) []string {
	t.Helper()
	nc, err := natsconn.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, natsconn.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{natsconn.DefaultSubjectPrefix + "." + natsconn.SanitizeToken(site) + ".>"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for {
		batch, err := cons.FetchNoWait(1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			ids = append(ids, m.Headers().Get("Nats-Msg-Id"))
			n++
		}
		if n == 0 {
			return ids
		}
	}
}

// summariesOnce checks the summaries of site in the EDGEPIPE stream against want (the
// Nats-Msg-Ids that must be there): ids are the stream's, in order; missing the wanted
// ids not in it, duplicated the messages beyond the first of a wanted id, stray the
// messages of an id not wanted.
func summariesOnce(t *testing.T, natsURL, site string, want []string) (ids []string, missing, duplicated, stray int) {
	t.Helper()
	ids = streamSummaryIDs(t, natsURL, site)
	inStream := map[string]int{}
	for _, id := range ids {
		inStream[id]++
	}
	wanted := map[string]bool{}
	for _, id := range want {
		wanted[id] = true
		if inStream[id] == 0 {
			missing++
		}
	}
	for id, n := range inStream {
		if !wanted[id] {
			stray += n
			continue
		}
		duplicated += n - 1
	}
	return ids, missing, duplicated, stray
}

// checkDailySummaries asserts that every device of streams (1,000 readings each, one
// every 5 min) has exactly its three closed daily windows summarised in the database at
// dbPath, 288 readings each, and that each of these summaries is in the JetStream stream
// exactly once.
func checkDailySummaries(t *testing.T, scenario int, dbPath, natsURL, site string, streams []datasets.Stream) {
	t.Helper()
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	var sums []pipeline.Summary
	err = db.Summaries(context.Background(), "", func(s pipeline.Summary) error {
		sums = append(sums, s)
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * len(streams); len(sums) != want {
		t.Errorf("scenario %d: %d summaries stored, want %d (3 closed daily windows per device)", scenario, len(sums), want)
	}
	day := int64(24 * time.Hour / time.Millisecond)
	t0 := streams[0].Times[0].UnixMilli()
	var want []string
	for _, s := range sums {
		want = append(want, store.MsgID(s))
		if s.Count != 288 || s.EndMs-s.StartMs != day || (s.StartMs-t0)%day != 0 || s.StartMs-t0 > 2*day {
			t.Errorf("scenario %d: summary %s: count %d, window [%d, %d) ms; want 288 readings in one of the first three days",
				scenario, store.MsgID(s), s.Count, s.StartMs, s.EndMs)
		}
	}
	_, missing, dup, stray := summariesOnce(t, natsURL, site, want)
	t.Logf("scenario %d: summaries: stored %d, in JetStream missing %d, duplicated %d, stray %d", scenario, len(sums), missing, dup, stray)
	if missing != 0 || dup != 0 || stray != 0 {
		t.Errorf("scenario %d: JetStream stream: %d summaries missing, %d duplicated, %d stray; want each stored summary exactly once",
			scenario, missing, dup, stray)
	}
}

// holdWriteLock makes the store stuck or slow the way another process does: a second
// connection (think of a backup or an sqlite3 shell) takes the database's write lock with
// BEGIN EXCLUSIVE, holds it for hold or until ctx ends, releases it for gap, and again,
// until ctx ends; each of edgepipe's transactions meanwhile waits (busy_timeout) for a
// gap. It closes locked (unless nil) once the first lock is taken or could not be, and
// returns the number of lock cycles. Errors fail the test with t.Error, so it may run in
// its own goroutine.
func holdWriteLock(ctx context.Context, t *testing.T, dbPath string, hold, gap time.Duration, locked chan<- struct{}) (cycles int) {
	signal := func() {
		if locked != nil {
			close(locked)
			locked = nil
		}
	}
	defer signal()
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_busy_timeout=30000")
	if err != nil {
		t.Error(err)
		return 0
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Error(err)
		return 0
	}
	defer conn.Close()
	for ctx.Err() == nil {
		_, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE")
		signal()
		if err != nil {
			t.Error(err)
			return cycles
		}
		select {
		case <-ctx.Done():
		case <-time.After(hold):
		}
		if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
			t.Error(err)
			return cycles
		}
		cycles++
		time.Sleep(gap)
	}
	return cycles
}

// tail returns the last n lines so far, one per line.
func (l *runLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(len(l.lines)-n, 0):], "\n")
}
