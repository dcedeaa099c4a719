package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/configs"
	"github.com/edgepipe/edgepipe/connectors/embedded"
	"github.com/edgepipe/edgepipe/datasets"
)

type benchOptions struct {
	// config is the pipeline file ("" = the embedded configs/demo.yaml); mqtt and nats
	// are external servers' URLs ("" starts embedded ones); db and model as in demo.
	config, mqtt, nats, db, model string
	sensors                       int
	rate                          string
	duration, warmup              time.Duration
	readings                      int64
	qos                           int
	backlog                       int64
	// exe is the edgepipe binary run as the worker ("" = this executable); logFormat
	// and logLevel are the worker's --log-format and --log-level; workerLog gets its
	// stderr.
	exe                 string
	logFormat, logLevel string
	workerLog           io.Writer
	// profiles are the pprof files the worker writes.
	profiles benchProfiles
}

func benchCmd(lf *logFlags) *cobra.Command {
	o := benchOptions{logFormat: "text", logLevel: "info", workerLog: os.Stderr}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the pipeline end to end: readings/s, latency, CPU, peak RSS, batch sizes, bytes in and out",
		Long: `bench starts (or connects to) an MQTT broker and a NATS server with JetStream, runs the
pipeline (the embedded configs/demo.yaml by default) in a child process of its own, and
publishes the shipped NAB recordings' values from --sensors simulated sensors at --rate
readings/s or flat out, for --warmup and then --duration (or until --readings more). It
reports the sustained rate from publish to commit, the publish → commit latency, the
pipeline process's CPU time per million readings and peak RSS, the inference batch
sizes and the bytes in (MQTT) and out (NATS summaries): a table, or JSON with --json.
README.md, Benchmarks, says how each figure is measured.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := lf.logger()
			if err != nil {
				return err
			}
			o.logFormat, o.logLevel = lf.format, lf.level
			ctx, stop := drainOnSignal()
			defer stop()
			r, err := runBench(ctx, o, log)
			if err != nil {
				return err
			}
			if asJSON {
				return r.writeJSON(cmd.OutOrStdout())
			}
			r.print(cmd.OutOrStdout())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.config, "config", "c", "", "pipeline file; it must read the bench's readings through the variables of configs/demo.yaml (default: the embedded configs/demo.yaml)")
	f.StringVar(&o.mqtt, "mqtt", "", "use this MQTT broker (tcp://host:port, e.g. tcp://127.0.0.1:18830) instead of an embedded one")
	f.StringVar(&o.nats, "nats", "", "use this NATS server with JetStream (nats://host:port) instead of an embedded one")
	f.IntVar(&o.sensors, "sensors", 100, "simulated sensors (devices)")
	f.StringVar(&o.rate, "rate", "max", "readings per second across all sensors, or max (flat out)")
	f.DurationVar(&o.duration, "duration", 30*time.Second, "how long to publish after the warmup")
	f.Int64Var(&o.readings, "readings", 0, "publish this many readings after the warmup instead of for --duration")
	f.IntVar(&o.qos, "qos", 1, "MQTT QoS of the publishes and of the pipeline's subscription (0 or 1)")
	f.DurationVar(&o.warmup, "warmup", 5*time.Second, "publish this long before measuring")
	f.Int64Var(&o.backlog, "backlog", 10000, "at most this many readings published but not yet committed")
	f.StringVar(&o.db, "db", "", "SQLite file for the pipeline, which must not exist (default: in a temporary folder, deleted at the end)")
	f.StringVar(&o.model, "model", "", "model file; trained and written when missing (default: the demo's, demo.model in the user cache folder)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	o.profiles.addFlags(f)
	cmd.AddCommand(benchWorkerCmd(lf))
	return cmd
}

// check validates the options and returns the rate in readings/s (0 = flat out).
func (o *benchOptions) check() (float64, error) {
	rate, err := parseRate(o.rate)
	if err != nil {
		return 0, fmt.Errorf("--rate: %q is not a positive number of readings per second or max", o.rate)
	}
	switch {
	case o.sensors < 1:
		return 0, fmt.Errorf("--sensors: %d, want at least 1", o.sensors)
	case o.qos != 0 && o.qos != 1:
		return 0, fmt.Errorf("--qos: %d is not 0 or 1", o.qos)
	case o.warmup < 0:
		return 0, fmt.Errorf("--warmup: %v is negative", o.warmup)
	case o.readings < 0:
		return 0, fmt.Errorf("--readings: %d is negative", o.readings)
	case o.readings == 0 && o.duration <= 0:
		return 0, fmt.Errorf("--duration: %v, want a positive duration (or --readings)", o.duration)
	case o.backlog < 1:
		return 0, fmt.Errorf("--backlog: %d, want at least 1", o.backlog)
	}
	if o.db != "" {
		if _, err := os.Stat(o.db); err == nil {
			return 0, fmt.Errorf("--db: %s exists; bench needs a new database (its readings would be duplicates)", o.db)
		}
	}
	return rate, nil
}

// runBench runs one benchmark (see benchCmd). A cancelled ctx stops the publisher
// early; what was published is still drained and reported.
func runBench(ctx context.Context, o benchOptions, log *slog.Logger) (*benchReport, error) {
	rate, err := o.check()
	if err != nil {
		return nil, err
	}
	if _, set := os.LookupEnv("GOGC"); !set {
		// This process's CPU time is taken from the pipeline it measures (they share
		// the cores), and most of it is the MQTT client's short-lived garbage: fewer
		// collections (GOGC=400) take about a tenth off it. The worker is left alone.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	if o.exe == "" {
		if o.exe, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	streams, err := datasets.ReadNABDir("")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "edgepipe-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if o.db == "" {
		o.db = filepath.Join(dir, "edgepipe.db")
	}
	if o.model == "" {
		o.model = filepath.Join(dir, "demo.model")
		if cache, err := os.UserCacheDir(); err == nil {
			o.model = filepath.Join(cache, "edgepipe", "demo.model")
		}
	}
	// The worker resolves relative paths from the config file's folder.
	if o.db, err = filepath.Abs(o.db); err != nil {
		return nil, err
	}
	if o.model, err = filepath.Abs(o.model); err != nil {
		return nil, err
	}
	if _, _, err := loadOrTrain(o.model, streams, log); err != nil {
		return nil, err
	}
	config := o.config
	if config == "" {
		data, err := configs.FS.ReadFile("demo.yaml")
		if err != nil {
			return nil, err
		}
		config = filepath.Join(dir, "demo.yaml")
		if err := os.WriteFile(config, data, 0o644); err != nil {
			return nil, err
		}
	}

	r := &benchReport{Config: o.config, MQTT: o.mqtt, NATS: o.nats, MQTTEmbedded: o.mqtt == "", NATSEmbedded: o.nats == "", QoS: o.qos,
		Sensors: o.sensors, TargetRate: rate, WarmupSeconds: o.warmup.Seconds()}
	if r.MQTT == "" {
		broker, err := embedded.StartMQTT("127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("embedded MQTT broker: %w", err)
		}
		defer broker.Close()
		r.MQTT = broker.URL()
	}
	if r.NATS == "" {
		ns, err := embedded.StartNATS(filepath.Join(dir, "nats"))
		if err != nil {
			return nil, fmt.Errorf("embedded NATS server: %w", err)
		}
		defer ns.Close()
		r.NATS = ns.URL()
	}
	// A site of its own per run: its topics, MQTT session and summary subjects are
	// this run's only, even on servers that keep earlier runs' state.
	site := "bench-" + strconv.FormatInt(time.Now().UnixMilli(), 36)
	log.Info("bench", "mqtt", r.MQTT, "nats", r.NATS, "db", o.db, "model", o.model, "site", site)

	sensors := newBenchSensors(streams, o.sensors, site)
	lat := newBenchLatencies(sensors)
	env := append(os.Environ(), "EDGEPIPE_MQTT_URL="+r.MQTT, "EDGEPIPE_NATS_URL="+r.NATS, "EDGEPIPE_DB="+o.db,
		"EDGEPIPE_MODEL="+o.model, "EDGEPIPE_SITE="+site, "EDGEPIPE_CLIENT_ID=edgepipe-"+site,
		"EDGEPIPE_TOPIC_ROOT="+site, "EDGEPIPE_QOS="+strconv.Itoa(o.qos))
	profArgs, err := o.profiles.args()
	if err != nil {
		return nil, err
	}
	child, err := startBenchChild(append([]string{o.exe, "bench", "worker", "-c", config, "--log-format", o.logFormat, "--log-level", o.logLevel}, profArgs...),
		env, o.workerLog, lat)
	if err != nil {
		return nil, err
	}
	defer child.kill()
	// Readings published before the pipeline's first subscription would not reach it.
	select {
	case <-child.ready:
	case <-child.exited:
		return nil, child.exitErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Minute):
		return nil, errors.New("bench worker: not subscribed within a minute")
	}
	if o.mqtt != "" {
		// The worker's persistent session would outlive the run in the broker.
		defer dropSession(r.MQTT, "edgepipe-"+site, log)
	}
	var counts demoCounts
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	subDone := make(chan error, 1)
	go func() { subDone <- subscribeDemo(sctx, r.NATS, site, &counts) }()

	var pub benchPublished
	start := time.Now()
	from := start.Add(o.warmup)
	child.from.Store(from.UnixNano())
	pctx, pcancel := context.WithCancel(ctx)
	if o.readings == 0 {
		pctx, pcancel = context.WithDeadline(ctx, from.Add(o.duration))
	}
	defer pcancel()
	go func() { // the worker exiting early ends the run
		select {
		case <-child.exited:
			pcancel()
		case <-pctx.Done():
		}
	}()
	snap0 := make(chan error, 1)
	var s0 benchSnapshot
	go func() {
		time.Sleep(time.Until(from))
		var err error
		s0, err = child.snapshot(10 * time.Second)
		snap0 <- err
	}()
	stopProgress := showBenchProgress(o, &pub, child, from)
	err = publishBench(pctx, benchPublishOptions{
		url: r.MQTT, clientID: site + "-publisher", qos: byte(o.qos), rate: rate, backlog: o.backlog,
		sensors: sensors, finished: child.finished, from: from, measured: o.readings, onPublish: lat.publish,
	}, &pub)
	r.Interrupted = ctx.Err() != nil
	select {
	case <-child.exited:
		err = child.exitErr()
	default:
	}
	if err != nil {
		stopProgress()
		return nil, err
	}
	// Wait until every published reading is committed, as long as the count keeps
	// moving (lost readings would make it wait for ever).
	waitProgress(child.finished, pub.acked.Load(), 15*time.Second)
	stopProgress()
	if err := <-snap0; err != nil {
		return nil, err
	}
	s1, err := child.snapshot(10 * time.Second)
	if err != nil {
		return nil, err
	}
	waitProgress(func() int64 { return counts.received.Load() }, child.summaries.Load(), 10*time.Second)
	if r.PeakRSSBytes, err = child.stop(time.Minute); err != nil {
		return nil, err
	}
	scancel()
	<-subDone

	r.Published, r.BytesIn = pub.acked.Load(), pub.bytes.Load()
	r.Committed, r.DeadLetters, r.Duplicates = child.finished(), child.dead.Load(), child.duplicates.Load()
	r.Lost = max(0, r.Published-r.Committed)
	r.MeasuredReadings = child.measured.Load()
	if last := time.Unix(0, child.lastCommit.Load()); last.After(from) {
		r.MeasuredSeconds = last.Sub(from).Seconds()
		r.ReadingsPerSecond = float64(r.MeasuredReadings) / r.MeasuredSeconds
	}
	if last := time.Unix(0, pub.last.Load()); last.After(from) {
		r.PublishedPerSecond = float64(pub.measured.Load()) / last.Sub(from).Seconds()
	}
	r.Latency.Samples = lat.count()
	p := lat.percentiles(50, 99, 100)
	r.Latency.P50, r.Latency.P99, r.Latency.Max = ms(p[0]), ms(p[1]), ms(p[2])
	r.CPUSeconds = (s1.cpu - s0.cpu).Seconds()
	if r.MeasuredReadings > 0 {
		r.CPUSecondsPerMillion = r.CPUSeconds / float64(r.MeasuredReadings) * 1e6
	}
	r.Batches, r.BatchMean = s1.batches.since(s0.batches)
	r.BytesOut, r.Summaries = counts.bytesOut.Load(), child.summaries.Load()
	r.SummariesReceived, r.SummaryDuplicates = counts.received.Load(), counts.duplicates.Load()
	return r, nil
}

// showBenchProgress shows a progress bar on a terminal while the bench publishes:
// seconds of the run, or with --readings the measured readings published. It returns
// the function that stops it.
func showBenchProgress(o benchOptions, pub *benchPublished, child *benchChild, from time.Time) func() {
	total, unit := int(math.Ceil((o.warmup + o.duration).Seconds())), "s"
	if o.readings > 0 {
		total, unit = int(o.readings), "readings"
	}
	bar := newProgressOf(total, "bench", unit)
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		prev, prevAt := child.finished(), time.Now()
		for {
			select {
			case <-done:
				bar.finish()
				return
			case now := <-t.C:
				n := int(now.Sub(start).Seconds())
				if o.readings > 0 {
					n = int(pub.measured.Load())
				}
				f := child.finished()
				phase := "measuring"
				if now.Before(from) {
					phase = "warming up"
				}
				bar.update(n, fmt.Sprintf("%s: published %d, committed %d (%.0f/s)", phase, pub.acked.Load(), f, float64(f-prev)/now.Sub(prevAt).Seconds()))
				prev, prevAt = f, now
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// dropSession removes the persistent session of clientID from the broker at url: it
// connects with that client id and a clean session, and disconnects.
func dropSession(url, clientID string, log *slog.Logger) {
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(true).SetConnectTimeout(10 * time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		log.Warn("bench: could not remove the pipeline's MQTT session", "client_id", clientID, "err", tok.Error())
		return
	}
	c.Disconnect(250)
}
