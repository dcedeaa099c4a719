// Package natsconn connects edgepipe to NATS: the "nats" output forwards the store's
// outbox of window summaries to JetStream (at-least-once publish, deduplicated by the
// Nats-Msg-Id header so the stream holds each summary once) or, when configured, to core
// NATS (at most once); Subscribe reads them back on the cloud side. PushModel stores a model
// for the gateways of a site in a JetStream object store, and the output's model sync
// (model_file) writes each valid, compatible push over the gateway's model file. Subjects are
// `<prefix>.<site>.summary.<device>` with every token percent-encoded (see Subject). The
// folder is connectors/nats; the package is named natsconn so that it can be imported
// next to github.com/nats-io/nats.go. See README.md for the wire format and delivery
// semantics.
package natsconn
