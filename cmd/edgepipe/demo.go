package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/edgepipe/edgepipe/configs"
	"github.com/edgepipe/edgepipe/connectors/embedded"
	mqttconn "github.com/edgepipe/edgepipe/connectors/mqtt"
	natsconn "github.com/edgepipe/edgepipe/connectors/nats"
	"github.com/edgepipe/edgepipe/datasets"
	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
)

// The environment variables holding the MQTT credentials of the demo's broker, its
// pipeline (configs/demo.yaml) and its replay publisher, and of `edgepipe replay`.
const (
	envMQTTUsername = "EDGEPIPE_MQTT_USERNAME"
	envMQTTPassword = "EDGEPIPE_MQTT_PASSWORD"
)

// demoDefaultRate replays the 69,561 shipped readings in about a minute.
const demoDefaultRate = "1200"

type demoOptions struct {
	speed    string
	db       string
	data     string
	model    string
	duration time.Duration
	// mqtt and nats are external servers' URLs; "" starts the embedded ones.
	mqtt, nats string
	// mqttListen is the embedded broker's address: loopback by default; any other
	// address needs the credentials of EDGEPIPE_MQTT_USERNAME and EDGEPIPE_MQTT_PASSWORD.
	mqttListen string
	// site names the run: summaries go to edgepipe.<site>.summary.<device>, readings to
	// <site>/<device>/reading, and the MQTT client id is edgepipe-<site>.
	site string
}

func demoCmd(lf *logFlags) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline embedded on the shipped NAB recordings and print a report",
		Long: `demo starts an embedded MQTT broker and NATS server (JetStream) on free local ports,
replays the NAB realKnownCause recordings as sensors over MQTT (QoS 1), runs the pipeline of
configs/demo.yaml (decode, clean, normalize, fill, window, autoencoder inference, SQLite,
daily summaries to JetStream), receives the summaries with a cloud-side subscriber, and ends
with a report. It trains the model first when the model file is missing.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := lf.logger()
			if err != nil {
				return err
			}
			ctx, stop := drainOnSignal()
			defer stop()
			r, err := runDemo(ctx, o, log)
			if err != nil {
				return printConfigErrors(err)
			}
			r.print(cmd.OutOrStdout())
			if r.lost > 0 {
				return fmt.Errorf("%d published readings were never stored: the broker dropped them (Mosquitto drops QoS 1 messages past max_queued_messages, 1000 by default: see README, Brokers)", r.lost)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.speed, "speed", demoDefaultRate, "replay rate in readings per second across all sensors, or max (as fast as possible)")
	f.StringVar(&o.db, "db", "", "SQLite file for the results (default: edgepipe.db in a new temporary folder, named in the report)")
	f.StringVar(&o.data, "data", "", "folder of NAB-format CSV files (timestamp,value) to replay, one sensor each (default: the shipped realKnownCause recordings)")
	f.StringVar(&o.model, "model", "", "model file; trained and written when missing (default: demo.model in the user cache folder, or beside --db with --data)")
	f.DurationVar(&o.duration, "duration", 0, "stop the replay after this long (0 = replay everything)")
	f.StringVar(&o.mqtt, "mqtt", "", "use this MQTT broker (tcp://host:port) instead of the embedded one")
	f.StringVar(&o.mqttListen, "mqtt-listen", "127.0.0.1:0", "the embedded broker's address (host:port); anything but loopback requires "+envMQTTUsername+" and "+envMQTTPassword+" (sensors then connect with them)")
	f.StringVar(&o.nats, "nats", "", "use this NATS server with JetStream (nats://host:port) instead of the embedded one")
	f.StringVar(&o.site, "site", "demo", "site name: the summary subjects' second token, the readings' topic root and the MQTT client id's suffix")
	return cmd
}

// parseRate turns --speed into readings per second (0 = as fast as possible).
func parseRate(s string) (float64, error) {
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("--speed: %q is not a positive number of readings per second or max", s)
	}
	return v, nil
}

// demoCounts are updated by the pipeline's hooks and the subscriber.
type demoCounts struct {
	// stored, dead and redelivered are this run's readings newly stored, newly
	// dead-lettered, and found already stored (a --db reused from an earlier run).
	stored, dead, redelivered atomic.Int64
	// summaries and summarized are this run's summaries and the readings they cover.
	summaries, summarized atomic.Int64
	// received and duplicates are the subscriber's summaries and repeated Nats-Msg-Ids.
	received, duplicates atomic.Int64
	bytesOut             atomic.Int64
}

// committed is how many published readings the pipeline has finished with.
func (c *demoCounts) committed() int64 { return c.stored.Load() + c.dead.Load() + c.redelivered.Load() }

func runDemo(ctx context.Context, o demoOptions, log *slog.Logger) (*demoReport, error) {
	rate, err := parseRate(o.speed)
	if err != nil {
		return nil, err
	}
	if o.duration < 0 {
		return nil, fmt.Errorf("--duration: %v is negative", o.duration)
	}
	streams, err := datasets.ReadNABDir(o.data)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(o.db)
	if o.db == "" {
		if dir, err = os.MkdirTemp("", "edgepipe-demo-"); err != nil {
			return nil, err
		}
		o.db = filepath.Join(dir, "edgepipe.db")
	}
	if o.model == "" {
		o.model = filepath.Join(dir, "demo.model")
		if cache, err := os.UserCacheDir(); err == nil && o.data == "" {
			o.model = filepath.Join(cache, "edgepipe", "demo.model")
		}
	}
	model, trained, err := loadOrTrain(o.model, streams, log)
	if err != nil {
		return nil, err
	}

	username, password := os.Getenv(envMQTTUsername), os.Getenv(envMQTTPassword)
	if o.mqtt == "" {
		broker, err := startDemoBroker(o.mqttListen, username, password)
		if err != nil {
			return nil, err
		}
		defer broker.Close()
		o.mqtt = broker.URL()
	}
	if o.nats == "" {
		// The embedded server's JetStream store lives for this run only, so the
		// subscriber counts this run's summaries.
		natsDir, err := os.MkdirTemp("", "edgepipe-demo-nats-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(natsDir)
		natsServer, err := embedded.StartNATS(natsDir)
		if err != nil {
			return nil, fmt.Errorf("embedded NATS server: %w", err)
		}
		defer natsServer.Close()
		o.nats = natsServer.URL()
	}
	log.Info("servers", "mqtt", o.mqtt, "nats", o.nats, "db", o.db)

	vars := map[string]string{
		"EDGEPIPE_MQTT_URL": o.mqtt, "EDGEPIPE_NATS_URL": o.nats, "EDGEPIPE_DB": o.db, "EDGEPIPE_SITE": o.site,
		"EDGEPIPE_MODEL": o.model, "EDGEPIPE_CLOSE_ON_DRAIN": "true", "EDGEPIPE_CLIENT_ID": "edgepipe-" + o.site,
		"EDGEPIPE_TOPIC_ROOT": o.site,
	}
	data, err := configs.FS.ReadFile("demo.yaml")
	if err != nil {
		return nil, err
	}
	cfg, err := pipeline.ParseEnv("configs/demo.yaml", data, func(k string) (string, bool) {
		if v, ok := vars[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		return nil, err
	}
	var counts demoCounts
	lat := newLatencies()
	p, err := pipeline.Build(cfg, pipeline.Env{Log: log, Hooks: pipeline.Hooks{
		Committed: func(recs []*pipeline.Record, duplicates int) {
			counts.redelivered.Add(int64(duplicates))
			now := time.Now()
			for _, r := range recs {
				if r.Dead() {
					counts.dead.Add(1)
					continue
				}
				counts.stored.Add(1)
				lat.commit(r.Device, r.Time, now)
			}
		},
		Summarized: func(sums []pipeline.Summary) {
			counts.summaries.Add(int64(len(sums)))
			for _, s := range sums {
				counts.summarized.Add(int64(s.Count))
			}
		},
	}})
	if err != nil {
		return nil, err
	}

	pctx, pcancel := context.WithCancel(context.Background())
	defer pcancel()
	runDone := make(chan error, 1)
	go func() { runDone <- p.Run(pctx) }()

	// Messages published before the pipeline's first subscription would not be queued
	// for its session: wait until the source is subscribed.
	select {
	case <-p.Ready():
	case err := <-runDone:
		return nil, fmt.Errorf("pipeline: %w", err)
	case <-ctx.Done():
		pcancel()
		<-runDone
		return nil, ctx.Err()
	}
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	subDone := make(chan error, 1)
	go func() { subDone <- subscribeDemo(sctx, o.nats, o.site, &counts) }()

	rctx, rcancel := context.WithCancel(ctx)
	defer rcancel()
	if o.duration > 0 {
		rctx, rcancel = context.WithTimeout(ctx, o.duration)
		defer rcancel()
	}
	total := 0
	for _, s := range streams {
		total += len(s.Values)
	}
	bar := newProgress(total, "replaying")
	var published atomic.Int64
	var wg sync.WaitGroup
	stopBar := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			bar.update(int(counts.committed()), fmt.Sprintf("published %d, summaries %d", published.Load(), counts.summaries.Load()))
			select {
			case <-stopBar:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	stats, err := mqttconn.Replay(rctx, mqttconn.ReplayOptions{
		URL: o.mqtt, Username: username, Password: password, ClientID: "edgepipe-" + o.site + "-replay", Topic: o.site + "/{device}/reading", QoS: 1, Rate: rate, Streams: streams,
		OnPublish: lat.publish,
		Progress:  func(done, total int) { published.Store(int64(done)) },
	})
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		pcancel()
		<-runDone
		return nil, fmt.Errorf("replay: %w", err)
	}
	interrupted := ctx.Err() != nil
	// Wait until every published reading is committed (stored or dead-lettered), as long
	// as the count keeps moving: a broker that dropped messages would otherwise make
	// this wait for ever.
	waitProgress(func() int64 { return counts.committed() }, int64(stats.Published), 15*time.Second)
	pcancel()
	runErr := <-runDone
	close(stopBar)
	wg.Wait()
	bar.finish()
	if runErr != nil {
		return nil, fmt.Errorf("pipeline: %w", runErr)
	}
	waitProgress(func() int64 { return counts.received.Load() }, counts.summaries.Load(), 10*time.Second)
	scancel()
	<-subDone

	r, err := buildReport(context.Background(), reportInput{
		streams: streams, dbPath: o.db, modelPath: o.model, trained: trained, model: model,
		published: stats.Published, bytesIn: stats.Bytes, counts: &counts, lat: lat, elapsed: time.Since(start),
		interrupted: interrupted,
	})
	if err != nil {
		return nil, err
	}
	if lost := int64(stats.Published) - counts.committed(); lost > 0 {
		r.lost = lost
	}
	// The plots go beside the database: <db without extension>-report/.
	if r.db.Inferences > 0 {
		plots, err := writePlotReport(context.Background(), reportOptions{db: o.db, out: strings.TrimSuffix(o.db, filepath.Ext(o.db)) + "-report",
			model: o.model, labels: "nab", width: defaultPlotWidth, panelHeight: defaultPanelHeight})
		if err != nil {
			return nil, fmt.Errorf("plots: %w", err)
		}
		r.plots = plots.index
	}
	return r, nil
}

// startDemoBroker starts the embedded MQTT broker on addr: anonymous on a loopback
// address without credentials, otherwise only for clients with username and password
// (both required off loopback). Errors never contain the password.
func startDemoBroker(addr, username, password string) (*embedded.MQTTBroker, error) {
	var b *embedded.MQTTBroker
	var err error
	if username == "" && password == "" {
		b, err = embedded.StartMQTT(addr)
	} else {
		b, err = embedded.StartMQTTAuth(addr, username, password)
	}
	if err != nil {
		return nil, fmt.Errorf("--mqtt-listen: %w (set %s and %s to serve it beyond localhost)", err, envMQTTUsername, envMQTTPassword)
	}
	return b, nil
}

// waitProgress polls value every 50 ms until it reaches want, or until it has not
// changed for stall.
func waitProgress(value func() int64, want int64, stall time.Duration) {
	last, since := value(), time.Now()
	for last < want && time.Since(since) < stall {
		time.Sleep(50 * time.Millisecond)
		if v := value(); v != last {
			last, since = v, time.Now()
		}
	}
}

// subscribeDemo is the cloud side: it reads every summary from the JetStream stream and
// counts them by Nats-Msg-Id (a second copy of an id is a duplicate).
func subscribeDemo(ctx context.Context, url, site string, c *demoCounts) error {
	nc, err := natsconn.Connect(url)
	if err != nil {
		return err
	}
	defer nc.Close()
	seen := map[string]bool{}
	for ctx.Err() == nil {
		err = natsconn.Subscribe(ctx, nc, natsconn.SubscribeOptions{Stream: natsconn.DefaultStream, Subject: natsconn.DefaultSubjectPrefix + "." + natsconn.SanitizeToken(site) + ".>", DeliverAll: true}, func(m natsconn.Received) error {
			if seen[m.MsgID] {
				c.duplicates.Add(1)
			}
			seen[m.MsgID] = true
			c.received.Add(1)
			c.bytesOut.Add(int64(len(m.Raw)))
			return nil
		})
		if err == nil || ctx.Err() != nil {
			return nil
		}
		// The forwarder creates the stream when it first connects; until then, retry.
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// loadOrTrain loads the model file, or trains the demo autoencoder on the streams'
// probationary periods and writes it there when it is missing.
func loadOrTrain(path string, streams []datasets.Stream, log *slog.Logger) (*models.Dense, bool, error) {
	if m, err := models.Load(path); err == nil {
		return m, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("model %s: %w (delete it to retrain)", path, err)
	}
	log.Info("model file missing: training", "path", path)
	m, err := trainStreams(streams, models.DefaultAnomalyOptions(), "demo")
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, err
	}
	if err := m.Save(path); err != nil {
		return nil, false, err
	}
	return m, true, nil
}
