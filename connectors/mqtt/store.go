package mqtt

import (
	"strings"
	"sync/atomic"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// inboundKey is the prefix of paho's store keys for packets received ("i.<message id>").
const inboundKey = "i."

// sessionStore is the source's paho.Store: paho's MemoryStore, except for the PUBLISH
// packets received. paho stores every QoS 1 PUBLISH it receives until its PUBACK is
// sent, and discards them all on the next connection (client.resume keeps only
// received PUBRELs, of QoS 2): what redelivers an unacked message is the broker's
// persistent session. Not keeping them saves a locked map insert and delete per message
// and the memory of the messages in flight (up to the broker's max_inflight_messages).
// What the source sends (SUBSCRIBE, the presence PUBLISHes) is kept and resent after a
// reconnect as before.
type sessionStore struct {
	*paho.MemoryStore
	// inbound is set once a received packet other than a PUBLISH is kept (a QoS 2
	// PUBREL, which this source does not subscribe for); until then deleting a
	// received packet's key has nothing to delete.
	inbound atomic.Bool
}

func newSessionStore() *sessionStore { return &sessionStore{MemoryStore: paho.NewMemoryStore()} }

// Put keeps message under key unless it is a PUBLISH received.
func (s *sessionStore) Put(key string, message packets.ControlPacket) {
	if strings.HasPrefix(key, inboundKey) {
		if _, ok := message.(*packets.PublishPacket); ok {
			return
		}
		s.inbound.Store(true)
	}
	s.MemoryStore.Put(key, message)
}

// Del deletes key (paho deletes a received PUBLISH's key when it sends the PUBACK).
func (s *sessionStore) Del(key string) {
	if strings.HasPrefix(key, inboundKey) && !s.inbound.Load() {
		return
	}
	s.MemoryStore.Del(key)
}
