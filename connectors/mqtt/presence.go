package mqtt

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Presence: one running pipeline per client id.
//
// A broker keeps one connection per client id and closes the older one when a new one
// connects with the same id (MQTT 3.1.1 §3.1.4); with auto-reconnect, two pipelines that
// share an id take the session from each other for ever and their messages are split
// between them. To refuse the second one at start, the source announces itself on a
// presence topic (default edgepipe/clients/<client id>/status):
//
//   - its connection carries a Last Will of "offline" (QoS 1, retained), which the broker
//     publishes when the connection ends without a DISCONNECT (a crash, kill -9, a power
//     cut once the keepalive expires, a session takeover);
//   - after every connect it publishes "online" (QoS 1, retained), and again every
//     keepalive/2 (a heartbeat, sent by paho's writer even while the pipeline is full);
//   - a clean stop (Close) publishes "offline" before its DISCONNECT.
//
// Before it takes the session, a new source checks the topic with a throwaway clean
// session (checkPresence). "online" retained alone does not prove a live holder: a broker
// restart or a power cut of a gateway that runs the broker too can leave a stale "online"
// with nobody connected. So the check waits for a live message: a heartbeat "online"
// proves a running holder and the source fails with an error naming the client id; an
// "offline" (the holder's will, once the broker notices a dead connection) or silence for
// 1.5 × keepalive + 1 s (no holder heartbeats) lets it start.
//
// A fight that presence cannot prevent (the other instance has presence off, or another
// program uses the id) is reported by the connection-lost handler: connections lost
// within quickLoss of being made, fightLosses times in a row, are logged at ERROR.

// DefaultPresenceTopic is the default presence topic; {client_id} is replaced by the
// client id with '/', '+' and '#' made '_'.
const DefaultPresenceTopic = "edgepipe/clients/{client_id}/status"

// Presence payloads.
const (
	presenceOnline  = "online"
	presenceOffline = "offline"
)

const (
	// presenceProbeWait bounds the wait for the check's own probe message, which proves
	// that the retained status (if any) has been delivered.
	presenceProbeWait = 5 * time.Second
	// quickLoss and fightLosses detect a session takeover fight (see above).
	quickLoss   = 5 * time.Second
	fightLosses = 3
)

// errClientIDInUse is wrapped by the error Run returns when another running pipeline
// holds the client id.
var errClientIDInUse = errors.New("client id in use")

// presenceTopic expands {client_id} in template.
func presenceTopic(template, clientID string) string {
	id := strings.NewReplacer("/", "_", "+", "_", "#", "_").Replace(clientID)
	return strings.ReplaceAll(template, "{client_id}", id)
}

// presenceWait is how long the check waits for a live status: longer than the
// heartbeat period (keepalive/2) and than the broker's detection of a dead connection
// (1.5 × keepalive, MQTT 3.1.1 §3.1.2.10).
func presenceWait(keepAlive time.Duration) time.Duration { return keepAlive*3/2 + time.Second }

// checkPresence reports, through a throwaway clean session, whether another running
// source holds the client id: it returns an error wrapping errClientIDInUse if so, a
// connection error (to be retried) if the broker cannot be reached, and nil otherwise,
// including when the check is inconclusive (the probe is not delivered: ACLs), which it
// logs.
// A closed stop ends the wait early (nil).
func (s *Source) checkPresence(stop <-chan struct{}) error {
	topic, probe := s.presence, s.presence+"/probe"
	msgs := make(chan paho.Message, 64)
	var suffix [4]byte
	rand.Read(suffix[:])
	c := paho.NewClient(paho.NewClientOptions().
		AddBroker(s.opts.URL).
		SetClientID("edgepipe-probe-" + hex.EncodeToString(suffix[:])).
		SetUsername(s.opts.Username).
		SetPassword(s.opts.Password).
		SetTLSConfig(s.tlsConf).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second))
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		return tok.Error()
	}
	defer c.Disconnect(0)
	route := func(_ paho.Client, m paho.Message) {
		select {
		case msgs <- m:
		default: // the check needs the first few only
		}
	}
	tok := c.SubscribeMultiple(map[string]byte{topic: 1, probe: 1}, route)
	if !tok.WaitTimeout(presenceProbeWait) || tok.Error() != nil {
		s.log.Warn("mqtt presence check inconclusive: subscription failed; starting", "topic", topic, "err", tok.Error())
		return nil
	}
	c.Publish(probe, 1, false, "probe")

	// The retained status, if any, arrives before the probe.
	retained := ""
	deadline := time.After(presenceProbeWait)
	for probed := false; !probed; {
		select {
		case m := <-msgs:
			if m.Topic() == probe {
				probed = true
			} else {
				retained = string(m.Payload())
			}
		case <-stop:
			return nil
		case <-deadline:
			s.log.Warn("mqtt presence check inconclusive: the probe was not delivered (ACL?); starting", "topic", probe)
			return nil
		}
	}
	if retained != presenceOnline {
		return nil
	}
	wait := presenceWait(s.opts.KeepAlive)
	s.log.Info("mqtt presence: client id marked online; waiting for a heartbeat of a running holder", "topic", topic, "up_to", wait)
	timeout := time.After(wait)
	for {
		select {
		case m := <-msgs:
			switch {
			case m.Topic() != topic:
			case string(m.Payload()) == presenceOnline:
				return fmt.Errorf("mqtt %s: %w: another running edgepipe holds client id %q (its heartbeat on %s says online); "+
					"a broker keeps one session per client id, so two pipelines would take it from each other for ever: "+
					"stop the other one, or give each pipeline its own client_id (for load sharing see shared subscriptions in connectors/mqtt/README.md)",
					s.url, errClientIDInUse, s.opts.ClientID, topic)
			case string(m.Payload()) == presenceOffline:
				return nil // the holder's will: it died, and the broker has noticed
			}
		case <-stop:
			return nil
		case <-timeout:
			s.log.Warn("mqtt presence: stale online status (no heartbeat); starting", "topic", topic, "waited", wait)
			return nil
		}
	}
}

// announce publishes "online" (retained) now and every keepalive/2 until stop closes.
// It is started once, after the first connection; onConnect republishes after a
// reconnect, since the broker published the will when the connection was lost.
func (s *Source) announce(stop <-chan struct{}) {
	tick := time.NewTicker(s.opts.KeepAlive / 2)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			s.publishPresence(presenceOnline)
		}
	}
}

// publishPresence publishes status on the presence topic (QoS 1, retained) when
// connected, waiting up to a second for the broker's ack.
func (s *Source) publishPresence(status string) {
	if s.presence == "" || !s.client.IsConnectionOpen() {
		return
	}
	tok := s.client.Publish(s.presence, 1, true, status)
	if !tok.WaitTimeout(time.Second) || tok.Error() != nil {
		s.log.Debug("mqtt presence publish not acknowledged", "status", status, "err", tok.Error())
	}
}

// noteLoss is called on every connection loss; it logs at ERROR when connections keep
// being lost right after they are made: the sign of another client with the same id.
func (s *Source) noteLoss() {
	s.lossMu.Lock()
	defer s.lossMu.Unlock()
	if time.Since(s.connectedAt) < quickLoss {
		s.quickLosses++
	} else {
		s.quickLosses = 1
	}
	if s.quickLosses >= fightLosses {
		s.log.Error("mqtt connection lost right after connecting, again and again: another client is probably connected with the same client id "+
			"(the broker closes the older connection when a new one connects, and both reconnect for ever); stop it or give each its own client_id",
			"client_id", s.opts.ClientID, "losses", s.quickLosses)
	}
}
