package natsconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgepipe/edgepipe/models"
	"github.com/edgepipe/edgepipe/pipeline"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultModelBucket is the JetStream object store bucket that holds pushed models, one
// object per site, named after the site.
const DefaultModelBucket = "edgepipe_models"

// modelStore returns the object store bucket of pushed models, creating it (file
// storage) when missing. A bucket created meanwhile by another gateway or a push is used
// as it is.
func modelStore(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.ObjectStore, error) {
	obs, err := js.ObjectStore(ctx, bucket)
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return obs, err
	}
	obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      bucket,
		Description: "edgepipe models pushed to the gateways, one object per site",
		Storage:     jetstream.FileStorage,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.ObjectStore(ctx, bucket)
	}
	return obs, err
}

// PushModel stores model m (its model file encoding, models.Encode) in the object store
// bucket (created when missing) as the object named site, replacing the site's previous
// model: the gateways of that site that sync models (the nats output's model_file) write
// it over their model file, at once or when they next connect. The object's metadata
// holds the model's name and version. It returns the server's error.
func PushModel(ctx context.Context, js jetstream.JetStream, bucket, site string, m *models.Dense) error {
	var data bytes.Buffer
	if err := m.Encode(&data); err != nil {
		return err
	}
	obs, err := modelStore(ctx, js, bucket)
	if err != nil {
		return fmt.Errorf("model bucket %s: %w", bucket, err)
	}
	meta := m.Meta()
	_, err = obs.Put(ctx, jetstream.ObjectMeta{
		Name:        site,
		Description: fmt.Sprintf("edgepipe model %q version %s", meta.Name, meta.Version),
		Metadata:    map[string]string{"name": meta.Name, "version": meta.Version},
	}, &data)
	if err != nil {
		return fmt.Errorf("push model to bucket %s, object %s: %w", bucket, site, err)
	}
	return nil
}

// modelSync keeps a model file equal to the site's object in the model bucket: each
// version pushed (and, at start, the one stored) is fetched, checked and written over the
// file; the infer operator's file watch then swaps it in.
type modelSync struct {
	bucket   string
	site     string // the object name
	path     string // the model file
	retryMax time.Duration
	// reconnected receives a value when the connection is (re)established: the watch
	// starts anew then, which is quicker than waiting for the old watch to notice.
	reconnected <-chan struct{}
	log         *slog.Logger
	m           *pipeline.Metrics
}

// run syncs until ctx is cancelled. Whenever the bucket cannot be reached or the watch
// fails it starts again after a capped, jittered backoff, and at once after a reconnect; a
// new watch first delivers the object as stored, so a gateway that was offline gets the
// latest push when it reconnects.
func (s *modelSync) run(ctx context.Context, js jetstream.JetStream) {
	attempt := 0
	for ctx.Err() == nil {
		watching, err := s.watch(ctx, js)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errReconnected) {
			attempt = 0
			continue
		}
		if watching {
			attempt = 0
		}
		attempt++
		wait := retryDelay(attempt, s.retryMax)
		s.log.Warn("nats: model sync interrupted; retrying", "bucket", s.bucket, "err", err, "attempt", attempt, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// errReconnected ends a watch after a reconnect.
var errReconnected = errors.New("reconnected")

// watch watches the bucket and applies every version of the site's object until ctx is
// cancelled, the watch fails or the connection is re-established (errReconnected);
// watching reports that the watch had started.
func (s *modelSync) watch(ctx context.Context, js jetstream.JetStream) (watching bool, err error) {
	obs, err := modelStore(ctx, js, s.bucket)
	if err != nil {
		return false, fmt.Errorf("model bucket %s: %w", s.bucket, err)
	}
	w, err := obs.Watch(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return false, fmt.Errorf("watch model bucket %s: %w", s.bucket, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return true, nil
		case <-s.reconnected:
			return true, errReconnected
		case info, ok := <-w.Updates():
			switch {
			case !ok:
				return true, errors.New("the watch of the model bucket ended")
			case info == nil || info.Name != s.site: // nil: the stored objects have all been listed
				continue
			}
			data, err := obs.GetBytes(ctx, info.Name) // checks the object's SHA-256 digest
			if err != nil {
				return true, fmt.Errorf("fetch model %s from bucket %s: %w", info.Name, s.bucket, err)
			}
			s.apply(data)
		}
	}
}

// apply writes a pushed model over the model file when it is valid (models.Decode),
// another version than the file's, and fits the file's model (models.CheckReplacement),
// so that a restart builds the pipeline with it as well. It logs and counts the outcome:
// result "written", "rejected" (the file is left untouched) or "failed" (the write failed).
func (s *modelSync) apply(data []byte) {
	reject := func(err error) {
		s.log.Error("nats: pushed model rejected; the model file is left as it is", "file", s.path, "bucket", s.bucket, "object", s.site, "err", err)
		s.m.ModelPushes.WithLabelValues("rejected").Inc()
	}
	next, err := models.Decode(bytes.NewReader(data))
	if err != nil {
		reject(err)
		return
	}
	cur, err := models.Load(s.path)
	switch {
	case err != nil:
		s.log.Warn("nats: the model file cannot be read; the pushed model replaces it", "file", s.path, "err", err)
	case cur.Meta().Version == next.Meta().Version:
		return // already there (the object as stored at start, or a push of the same file)
	default:
		if err := models.CheckReplacement(cur, next); err != nil {
			reject(err)
			return
		}
	}
	if err := next.Save(s.path); err != nil {
		s.log.Error("nats: cannot write the pushed model; the next push or restart tries again", "file", s.path, "err", err)
		s.m.ModelPushes.WithLabelValues("failed").Inc()
		return
	}
	s.m.ModelPushes.WithLabelValues("written").Inc()
	s.log.Info("nats: pushed model written", "file", s.path, "name", next.Meta().Name, "version", next.Meta().Version)
}

// checkModelSync checks the model sync fields: model_file needs JetStream, a valid bucket
// name and a readable model file (a typo would otherwise write pushes where nothing reads
// them).
func checkModelSync(c *pipeline.Conf, cfg config) error {
	if cfg.modelFile == "" {
		return nil
	}
	if !cfg.jetstream {
		return c.Errorf(fieldModelFile, "model sync needs JetStream (%s: true)", fieldJetStream)
	}
	if !validBucket(cfg.modelBucket) {
		return c.Errorf(fieldModelBucket, "%q: want a bucket name of A-Z a-z 0-9 _ -", cfg.modelBucket)
	}
	if _, err := models.Load(cfg.modelFile); err != nil {
		return c.Errorf(fieldModelFile, "%v", err)
	}
	return nil
}

// validBucket reports whether name is a valid object store bucket name.
func validBucket(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
