package mqtt

import (
	"slices"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// The session store keeps what the client sends and received packets other than
// PUBLISH, and never the PUBLISHes received.
func TestSessionStoreSkipsReceivedPublishes(t *testing.T) {
	s := newSessionStore()
	s.Open()
	defer s.Close()
	pub := func(id uint16) *packets.PublishPacket {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.Qos, p.MessageID, p.TopicName = 1, id, "t"
		return p
	}
	s.Put("i.7", pub(7)) // received: not kept
	s.Del("i.7")         // its PUBACK
	s.Put("o.3", pub(3)) // sent: kept until its PUBACK
	if keys := s.All(); !slices.Equal(keys, []string{"o.3"}) {
		t.Fatalf("keys %v, want [o.3]", keys)
	}
	if s.Get("o.3") == nil || s.Get("i.7") != nil {
		t.Fatal("want o.3 kept and i.7 not")
	}
	rel := packets.NewControlPacket(packets.Pubrel).(*packets.PubrelPacket)
	rel.MessageID = 9
	s.Put("i.9", rel) // a QoS 2 PUBREL received is kept, and deleted by its key
	if s.Get("i.9") == nil {
		t.Fatal("received PUBREL not kept")
	}
	s.Del("i.9")
	s.Del("o.3")
	if keys := s.All(); len(keys) != 0 {
		t.Fatalf("keys %v after the deletes, want none", keys)
	}
}
