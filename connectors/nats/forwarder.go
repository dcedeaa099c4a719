package natsconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config fields of the "nats" output.
const (
	typeName             = "nats"
	fieldURL             = "url"
	fieldSubjectPrefix   = "subject_prefix"
	fieldStream          = "stream"
	fieldJetStream       = "jetstream"
	fieldFormat          = "format"
	fieldDuplicateWindow = "duplicate_window"
	fieldMaxPending      = "max_pending"
	fieldRetryMax        = "retry_max"
	fieldUser            = "user"
	fieldPassword        = "password"
	fieldToken           = "token"
	fieldCreds           = "creds"
	fieldNkey            = "nkey"
	fieldCAFile          = "ca_file"
	fieldCertFile        = "cert_file"
	fieldKeyFile         = "key_file"
	fieldModelFile       = "model_file"
	fieldModelBucket     = "model_bucket"
	fieldReadyOutbox     = "ready_outbox_limit"
)

// Defaults shared by the forwarder and the subscriber.
const (
	DefaultSubjectPrefix = "edgepipe"
	DefaultStream        = "EDGEPIPE"
)

const (
	// headerContentType names the payload encoding of a summary message.
	headerContentType = "Content-Type"
	// ackTimeout bounds the wait for one JetStream publish ack; a publish without an ack
	// by then fails and its entry is retried (a late ack then makes the resend a
	// duplicate, which the stream drops).
	ackTimeout = 5 * time.Second
	// flushTimeout bounds the core NATS flush (PING/PONG round trip) after a batch.
	flushTimeout = 5 * time.Second
	// pollInterval is how often an idle forwarder looks at the outbox besides Notify.
	pollInterval = time.Second
	// removeTimeout bounds Remove after acks; once the run context is cancelled (the
	// pipeline stops: its drain deadline has passed or the outbox is empty) Remove gets
	// at most removeGrace more, so that a store that cannot write (locked, full disk)
	// does not hold the exit past drain_timeout. Entries not removed are sent again at
	// the next start, and the stream drops them as duplicates (Nats-Msg-Id).
	removeTimeout = 5 * time.Second
	removeGrace   = 500 * time.Millisecond
	// DefaultReadyOutboxLimit is the default of ready_outbox_limit (summaries).
	DefaultReadyOutboxLimit = 1000
)

func init() {
	pipeline.Register(pipeline.Spec{
		Kind:    pipeline.KindOutput,
		Name:    typeName,
		Summary: "Forwards outbox summaries to NATS JetStream (at-least-once, deduplicated by Nats-Msg-Id) or core NATS (at most once).",
		Fields: []pipeline.Field{
			{Name: fieldURL, Type: pipeline.TypeString, Required: true, Description: "NATS server URL, nats://host:port or tls://host:port; several separated by commas."},
			{Name: fieldSubjectPrefix, Type: pipeline.TypeString, Default: DefaultSubjectPrefix, Description: "First token(s) of every summary subject, <prefix>.<site>.summary.<device>; dot-separated tokens of A-Z a-z 0-9 _ -."},
			{Name: fieldStream, Type: pipeline.TypeString, Default: DefaultStream, Description: "JetStream stream that stores the summaries; created with subjects <prefix>.> when missing, left as is when it exists."},
			{Name: fieldJetStream, Type: pipeline.TypeBool, Default: true, Description: "Publish to JetStream and delete an outbox entry on its publish ack (at-least-once; the stream deduplicates resends). false = core NATS, at most once."},
			{Name: fieldFormat, Type: pipeline.TypeString, Default: FormatMsgpack, Enum: []string{FormatMsgpack, FormatJSON}, Description: "Summary payload encoding (Content-Type application/msgpack or application/json)."},
			{Name: fieldDuplicateWindow, Type: pipeline.TypeDuration, Default: time.Hour, Description: "Duplicate window of a stream the forwarder creates: a resend with the same Nats-Msg-Id within it is dropped by the server."},
			{Name: fieldMaxPending, Type: pipeline.TypeInt, Default: 256, Min: pipeline.AtLeast(1), Description: "Outbox entries published per batch, i.e. JetStream publishes awaiting their ack at once."},
			{Name: fieldRetryMax, Type: pipeline.TypeDuration, Default: 30 * time.Second, Description: "Longest wait between retries (publish and reconnect) while the uplink is down; delays double from 250ms up to it, with jitter."},
			{Name: fieldUser, Type: pipeline.TypeString, Description: "User name for user/password authentication."},
			{Name: fieldPassword, Type: pipeline.TypeString, Secret: true, Description: "Password for user/password authentication."},
			{Name: fieldToken, Type: pipeline.TypeString, Secret: true, Description: "Authentication token."},
			{Name: fieldCreds, Type: pipeline.TypeString, Description: "Path of a NATS credentials file (JWT and NKey seed), relative to the config file."},
			{Name: fieldNkey, Type: pipeline.TypeString, Description: "Path of an NKey seed file (SU...) for NKey authentication, relative to the config file; keep it readable by edgepipe only."},
			{Name: fieldCAFile, Type: pipeline.TypeString, Description: "PEM file of the CA certificate(s) that sign the server's certificate, relative to the config file; setting any TLS file requires TLS (as tls:// does). Empty = the system's root CAs."},
			{Name: fieldCertFile, Type: pipeline.TypeString, Description: "PEM client certificate for servers that verify clients (--tlsverify), relative to the config file. Needs key_file."},
			{Name: fieldKeyFile, Type: pipeline.TypeString, Description: "PEM private key of cert_file, relative to the config file."},
			{Name: fieldModelFile, Type: pipeline.TypeString, Description: "Model sync: the model file (relative to the config file; normally the infer operator's model) to keep equal to the site's model pushed with `edgepipe model push`. A pushed model is checked (valid, same kind, features and window) and written over the file atomically; infer's file watch then swaps it in. Empty = off. Needs jetstream."},
			{Name: fieldReadyOutbox, Type: pipeline.TypeInt, Default: DefaultReadyOutboxLimit, Min: pipeline.AtLeast(0), Description: "Readiness (/readyz of edgepipe run --metrics): while NATS is not connected the output still counts as ready as long as the outbox holds fewer summaries than this (the uplink is allowed to be flaky); 0 = not ready whenever NATS is not connected."},
			{Name: fieldModelBucket, Type: pipeline.TypeString, Default: DefaultModelBucket, Description: "JetStream object store bucket of pushed models, one object per site named after the site (created when missing); it keeps the latest push, which a gateway that was offline gets when it reconnects."},
		},
		Build: build,
	})
}

// config is the forwarder's validated configuration.
type config struct {
	url             string
	prefix          string
	stream          string
	jetstream       bool
	format          string
	duplicateWindow time.Duration
	maxPending      int
	retryMax        time.Duration
	user, password  string
	token           string
	creds           string // resolved path
	nkey            string // resolved path of the NKey seed file
	tls             tlsFiles
	name            string // client connection name
	modelFile       string // resolved path; "" = no model sync
	modelBucket     string
	site            string // the model object's name
	readyOutbox     int    // ready_outbox_limit
}

func build(c *pipeline.Conf, env *pipeline.Env) (any, error) {
	cfg := config{
		url:             c.String(fieldURL),
		prefix:          c.String(fieldSubjectPrefix),
		stream:          c.String(fieldStream),
		jetstream:       c.Bool(fieldJetStream),
		format:          c.String(fieldFormat),
		duplicateWindow: c.Duration(fieldDuplicateWindow),
		maxPending:      c.Int(fieldMaxPending),
		retryMax:        c.Duration(fieldRetryMax),
		user:            c.String(fieldUser),
		password:        c.String(fieldPassword),
		token:           c.String(fieldToken),
		creds:           env.Path(c.String(fieldCreds)),
		nkey:            env.Path(c.String(fieldNkey)),
		tls:             tlsFiles{ca: env.Path(c.String(fieldCAFile)), cert: env.Path(c.String(fieldCertFile)), key: env.Path(c.String(fieldKeyFile))},
		name:            "edgepipe-" + env.Name + "-" + env.Site,
		modelFile:       env.Path(c.String(fieldModelFile)),
		modelBucket:     c.String(fieldModelBucket),
		site:            env.Site,
		readyOutbox:     c.Int(fieldReadyOutbox),
	}
	if err := validURLs(cfg.url); err != nil {
		return nil, c.Errorf(fieldURL, "%v", err)
	}
	if !validPrefix(cfg.prefix) {
		return nil, c.Errorf(fieldSubjectPrefix, "%q: want dot-separated, non-empty tokens of A-Z a-z 0-9 _ -", cfg.prefix)
	}
	if cfg.jetstream && (cfg.stream == "" || strings.ContainsAny(cfg.stream, " \t\r\n.*>/\\")) {
		return nil, c.Errorf(fieldStream, "%q is not a valid stream name (non-empty, without whitespace . * > / \\)", cfg.stream)
	}
	if cfg.duplicateWindow <= 0 {
		return nil, c.Errorf(fieldDuplicateWindow, "must be positive")
	}
	if cfg.retryMax <= 0 {
		return nil, c.Errorf(fieldRetryMax, "must be positive")
	}
	if cfg.password != "" && cfg.user == "" {
		return nil, c.Errorf(fieldPassword, "set %s too", fieldUser)
	}
	if n := btoi(cfg.user != "") + btoi(cfg.token != "") + btoi(cfg.creds != "") + btoi(cfg.nkey != ""); n > 1 {
		return nil, c.Errorf(fieldUser, "use one of %s/%s, %s, %s or %s", fieldUser, fieldPassword, fieldToken, fieldCreds, fieldNkey)
	}
	files := []struct{ field, path string }{{fieldCreds, cfg.creds}, {fieldNkey, cfg.nkey}, {fieldCAFile, cfg.tls.ca}, {fieldCertFile, cfg.tls.cert}, {fieldKeyFile, cfg.tls.key}}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return nil, c.Errorf(f.field, "%v", err)
		}
	}
	if cfg.nkey != "" {
		if _, err := nats.NkeyOptionFromSeed(cfg.nkey); err != nil {
			return nil, c.Errorf(fieldNkey, "not an NKey seed file: %v", err)
		}
	}
	if err := checkTLS(c, cfg.tls); err != nil {
		return nil, err
	}
	if err := checkModelSync(c, cfg); err != nil {
		return nil, err
	}
	return newForwarder(cfg, env), nil
}

// checkTLS checks that a client certificate comes with its key and that the files parse.
func checkTLS(c *pipeline.Conf, t tlsFiles) error {
	if t.cert != "" && t.key == "" {
		return c.Errorf(fieldCertFile, "needs %s (the client certificate's private key)", fieldKeyFile)
	}
	if t.key != "" && t.cert == "" {
		return c.Errorf(fieldKeyFile, "needs %s (the client certificate)", fieldCertFile)
	}
	if _, err := (tlsFiles{ca: t.ca}).config(); err != nil {
		return c.Errorf(fieldCAFile, "%v", err)
	}
	if _, err := t.config(); err != nil {
		return c.Errorf(fieldCertFile, "%v", err)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// validURLs checks a comma-separated list of nats:// or tls:// URLs with a host.
func validURLs(list string) error {
	for _, s := range strings.Split(list, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // without the URL, which may hold a password
			}
			return fmt.Errorf("not a URL: %v", err)
		}
		if u.Scheme != "nats" && u.Scheme != "tls" {
			return fmt.Errorf("%q: want a nats:// or tls:// URL", u.Redacted())
		}
		if u.Host == "" {
			return fmt.Errorf("%q: no host", u.Redacted())
		}
	}
	return nil
}

// redactURLs returns a URL list with the passwords of user info replaced by "xxxxx", for
// logs and errors.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, s := range parts {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil {
			parts[i] = u.Redacted()
		} else {
			parts[i] = "(invalid URL)"
		}
	}
	return strings.Join(parts, ",")
}

// forwarder drains the outbox to NATS. It implements pipeline.Forwarder.
type forwarder struct {
	cfg config
	log *slog.Logger
	m   *pipeline.Metrics

	// up receives a value (non-blocking) on every (re)connect so a retry wait ends early;
	// syncUp too, so that the model sync watches the bucket anew at once.
	up, syncUp chan struct{}

	mu sync.Mutex
	nc *nats.Conn
}

func newForwarder(cfg config, env *pipeline.Env) *forwarder {
	return &forwarder{cfg: cfg, log: env.Log, m: env.Metrics, up: make(chan struct{}, 1), syncUp: make(chan struct{}, 1)}
}

// connect opens the connection. It retries for ever in the background (a server that is
// down at start is not an error); it fails only on invalid options.
func (f *forwarder) connect() (*nats.Conn, error) {
	gauge := f.m.Connected.WithLabelValues(typeName)
	onUp := func(*nats.Conn) {
		gauge.Set(1)
		for _, c := range []chan struct{}{f.up, f.syncUp} {
			select {
			case c <- struct{}{}:
			default:
			}
		}
	}
	opts := []nats.Option{
		nats.Name(f.cfg.name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return retryDelay(attempts, f.cfg.retryMax) }),
		// No client-side buffering while disconnected: publishes fail at once and the
		// entries stay in the durable outbox instead.
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(onUp),
		nats.ReconnectHandler(onUp),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			gauge.Set(0)
			if err != nil {
				f.log.Warn("nats: disconnected", "err", err)
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { gauge.Set(0) }),
	}
	switch {
	case f.cfg.user != "":
		opts = append(opts, nats.UserInfo(f.cfg.user, f.cfg.password))
	case f.cfg.token != "":
		opts = append(opts, nats.Token(f.cfg.token))
	case f.cfg.creds != "":
		opts = append(opts, nats.UserCredentials(f.cfg.creds))
	case f.cfg.nkey != "":
		o, err := nats.NkeyOptionFromSeed(f.cfg.nkey)
		if err != nil {
			return nil, fmt.Errorf("nats: nkey %s: %w", f.cfg.nkey, err)
		}
		opts = append(opts, o)
	}
	if f.cfg.tls.set() {
		tc, err := f.cfg.tls.config()
		if err != nil {
			return nil, fmt.Errorf("nats: tls: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	nc, err := nats.Connect(f.cfg.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect %s: %w", redactURLs(f.cfg.url), err)
	}
	if nc.IsConnected() {
		gauge.Set(1)
	} else {
		gauge.Set(0)
	}
	f.mu.Lock()
	f.nc = nc
	f.mu.Unlock()
	return nc, nil
}

// Run forwards outbox entries until ctx is cancelled, then returns nil; with model_file set
// it also syncs that file with the site's pushed model meanwhile (modelSync). Each batch of up
// to max_pending entries (oldest first) is published, each entry as one message with
// header Nats-Msg-Id = entry.MsgID; entries are removed from the outbox only once
// acknowledged (JetStream publish ack, duplicate or not) or flushed (core NATS). On any
// failure the unacknowledged entries stay in the outbox and are retried after a capped,
// jittered backoff, for ever: no entry is dropped. Run returns an error only when the
// connection options are invalid or the existing stream's subjects do not cover
// the summary subjects `<subject_prefix>.*.summary.*`.
func (f *forwarder) Run(ctx context.Context, ob pipeline.Outbox) error {
	nc, err := f.connect()
	if err != nil {
		return err
	}
	var js jetstream.JetStream
	if f.cfg.jetstream {
		js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(f.cfg.maxPending), jetstream.WithPublishAsyncTimeout(ackTimeout))
		if err != nil {
			return fmt.Errorf("nats: jetstream: %w", err)
		}
		if f.cfg.modelFile != "" {
			ms := &modelSync{bucket: f.cfg.modelBucket, site: f.cfg.site, path: f.cfg.modelFile, retryMax: f.cfg.retryMax,
				reconnected: f.syncUp, log: f.log, m: f.m}
			sctx, cancel := context.WithCancel(ctx)
			synced := make(chan struct{})
			go func() { defer close(synced); ms.run(sctx, js) }()
			defer func() { cancel(); <-synced }()
		}
	} else {
		f.log.Warn("nats: jetstream is off: summaries are published with core NATS, delivery is AT MOST ONCE (a summary sent while no subscriber listens, or lost in transit, is gone)",
			"url", redactURLs(f.cfg.url))
	}
	f.setDepth(ctx, ob)
	needStream := js != nil
	attempt := 0
	for ctx.Err() == nil {
		idle, err := f.step(ctx, nc, js, ob, &needStream)
		var perm *permanentError
		switch {
		case err == nil && idle:
			attempt = 0
			f.m.OutboxDepth.Set(0)
			f.idle(ctx, ob)
		case err == nil:
			attempt = 0
		case errors.As(err, &perm):
			return fmt.Errorf("nats: %w", err)
		case ctx.Err() != nil:
			return nil
		default:
			attempt++
			wait := retryDelay(attempt, f.cfg.retryMax)
			if !nc.IsConnected() {
				// Publishing while disconnected fails with "outbound buffer limit
				// exceeded" (the reconnect buffer is off); say why instead.
				err = fmt.Errorf("not connected (last error: %v)", nc.LastError())
			}
			f.log.Warn("nats: forwarding failed; the outbox keeps the summaries and retries", "err", err, "attempt", attempt, "retry_in", wait)
			f.sleep(ctx, wait)
		}
	}
	return nil
}

// step makes sure the stream exists when *needStream (at start, and again after a
// publish found no stream: it was deleted, or the server lost its storage), then
// forwards one batch. idle reports an empty outbox.
func (f *forwarder) step(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, ob pipeline.Outbox, needStream *bool) (idle bool, err error) {
	if *needStream {
		if err := ensureStream(ctx, js, f.cfg.stream, f.cfg.prefix, f.cfg.duplicateWindow, f.log.Warn); err != nil {
			return false, err
		}
		*needStream = false
	}
	entries, err := ob.Pending(ctx, f.cfg.maxPending)
	if err != nil {
		return false, fmt.Errorf("outbox: %w", err)
	}
	if len(entries) == 0 {
		return true, nil
	}
	err = f.forward(ctx, nc, js, ob, entries)
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		*needStream = true
	}
	return false, err
}

// forward publishes one batch and removes the entries that were acknowledged, in outbox
// order. It returns the first failure, if any.
func (f *forwarder) forward(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, ob pipeline.Outbox, entries []pipeline.OutboxEntry) error {
	var acked []int64
	var err error
	if js != nil {
		acked, err = f.publishJetStream(js, entries)
	} else {
		acked, err = f.publishCore(nc, entries)
	}
	if len(acked) > 0 {
		// Remove even when ctx was just cancelled: the server has these summaries.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(removeGrace, cancel) })
		rerr := ob.Remove(rctx, acked)
		stop()
		cancel()
		if rerr != nil {
			// Not removed: they are sent again, and the stream drops the duplicates.
			return errors.Join(err, fmt.Errorf("outbox remove: %w", rerr))
		}
		f.m.Forwarded.Add(float64(len(acked)))
		f.setDepth(ctx, ob)
	}
	return err
}

// message builds the NATS message of an entry.
func (f *forwarder) message(e pipeline.OutboxEntry) (*nats.Msg, error) {
	data, ctype, err := EncodeSummary(e.Summary, f.cfg.format)
	if err != nil {
		return nil, fmt.Errorf("outbox entry %d: %w", e.ID, err)
	}
	m := nats.NewMsg(Subject(f.cfg.prefix, e.Summary.Site, e.Summary.Device))
	m.Header.Set(nats.MsgIdHdr, e.MsgID)
	m.Header.Set(headerContentType, ctype)
	m.Data = data
	return m, nil
}

// publishJetStream publishes entries asynchronously (at most max_pending in flight) and
// waits for every ack or failure (each bounded by ackTimeout). It returns the ids of the
// acknowledged entries in outbox order and the first error. A PubAck with Duplicate set
// means the stream already held the Nats-Msg-Id (an earlier publish whose ack was lost):
// the entry is acknowledged all the same.
func (f *forwarder) publishJetStream(js jetstream.JetStream, entries []pipeline.OutboxEntry) ([]int64, error) {
	type inflight struct {
		id  int64
		fut jetstream.PubAckFuture
	}
	var sent []inflight
	var firstErr error
	for _, e := range entries {
		m, err := f.message(e)
		if err != nil {
			firstErr = firstOf(firstErr, err)
			continue
		}
		fut, err := js.PublishMsgAsync(m)
		if err != nil {
			firstErr = firstOf(firstErr, fmt.Errorf("publish %s: %w", m.Subject, err))
			break // the connection is down: do not try the rest of the batch now
		}
		sent = append(sent, inflight{e.ID, fut})
	}
	var acked []int64
	dups := 0
	for _, s := range sent {
		select {
		case ack := <-s.fut.Ok():
			acked = append(acked, s.id)
			if ack.Duplicate {
				dups++
			}
		case err := <-s.fut.Err():
			firstErr = firstOf(firstErr, fmt.Errorf("publish %s: %w", s.fut.Msg().Subject, err))
		}
	}
	if dups > 0 {
		f.log.Debug("nats: stream already held some summaries (resend deduplicated by Nats-Msg-Id)", "duplicates", dups)
	}
	return acked, firstErr
}

// publishCore publishes entries with core NATS and flushes; all are "acknowledged" once
// the server has answered the flush's PING (at most once: no subscriber may have got them).
func (f *forwarder) publishCore(nc *nats.Conn, entries []pipeline.OutboxEntry) ([]int64, error) {
	var ids []int64
	var firstErr error
	for _, e := range entries {
		m, err := f.message(e)
		if err != nil {
			firstErr = firstOf(firstErr, err)
			continue
		}
		if err := nc.PublishMsg(m); err != nil {
			return nil, firstOf(firstErr, fmt.Errorf("publish %s: %w", m.Subject, err))
		}
		ids = append(ids, e.ID)
	}
	if err := nc.FlushTimeout(flushTimeout); err != nil {
		return nil, firstOf(firstErr, fmt.Errorf("flush: %w", err))
	}
	return ids, firstErr
}

// firstOf returns first if set, else err.
func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// setDepth updates the outbox depth gauge.
func (f *forwarder) setDepth(ctx context.Context, ob pipeline.Outbox) {
	if n, err := ob.Len(ctx); err == nil {
		f.m.OutboxDepth.Set(float64(n))
	}
}

// idle waits for new outbox entries, the poll tick or ctx.
func (f *forwarder) idle(ctx context.Context, ob pipeline.Outbox) {
	t := time.NewTimer(pollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-ob.Notify():
	case <-t.C:
	}
}

// sleep waits d, or less when the connection comes back up or ctx ends.
func (f *forwarder) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-f.up:
	case <-t.C:
	}
}

// Close closes the NATS connection (pending publishes are abandoned: their entries are
// still in the outbox).
func (f *forwarder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nc != nil {
		f.nc.Close()
		f.nc = nil
	}
	return nil
}
