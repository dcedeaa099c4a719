package embedded

import (
	"sort"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// resendInOrder is a mochi hook that makes the broker resend a session's unacknowledged
// messages in the order they were first sent, as MQTT 3.1.1 §4.6 [MQTT-4.6.0-1] requires.
//
// mochi v2.7.9 resends them (on reconnect) sorted by uint16(packet.Created), the second
// the message arrived, with an unstable sort over a map: messages that arrived within one
// second come back in random order, and a consumer's event-time watermark would take the
// earlier ones for late data. The hook keeps mochi's sort but gives it a key that orders:
//   - when a QoS ≥ 1 message is first put in flight (OnQosPublish), its Created becomes
//     seqBase + a broker-wide sequence number;
//   - when a session is resumed (the CONNACK with session present is sent, before mochi
//     resends), the session's in-flight messages are ranked by Created and Created is set to
//     the rank, 0 … n−1 (n ≤ MQTTMaxSession < 65536), which uint16 keeps in order. Ranks stay
//     below every sequence number, so resent messages still sort before newer ones at the
//     next reconnect.
//
// Created is otherwise used only for message expiry, which the embedded broker turns off
// (MaximumMessageExpiryInterval = 0).
type resendInOrder struct {
	mochi.HookBase
	seq atomic.Int64
}

// seqBase lifts sequence numbers above ranks (< 65536) and above the Unix seconds mochi
// stamps on arrival (< 2^40 for the next 30,000 years); it is a multiple of 65536.
const seqBase = int64(1) << 40

// ID names the hook for mochi.
func (h *resendInOrder) ID() string { return "edgepipe-resend-in-order" }

// Provides selects the two events the hook handles.
func (h *resendInOrder) Provides(b byte) bool {
	return b == mochi.OnQosPublish || b == mochi.OnPacketSent
}

// OnQosPublish stamps a message put in flight for the first time with the next sequence
// number. Resends (Created already a rank or a sequence number) keep theirs.
func (h *resendInOrder) OnQosPublish(cl *mochi.Client, pk packets.Packet, sent int64, resends int) {
	if pk.Created < 1<<16 || pk.Created >= seqBase {
		return
	}
	pk.Created = seqBase + h.seq.Add(1)
	cl.State.Inflight.Set(pk)
}

// OnPacketSent ranks a resumed session's in-flight messages when its CONNACK goes out,
// right before mochi resends them.
func (h *resendInOrder) OnPacketSent(cl *mochi.Client, pk packets.Packet, b []byte) {
	if pk.FixedHeader.Type != packets.Connack || !pk.SessionPresent {
		return
	}
	inflight := cl.State.Inflight.GetAll(false)
	sort.Slice(inflight, func(i, j int) bool { return inflight[i].Created < inflight[j].Created })
	for rank, p := range inflight {
		p.Created = int64(rank)
		cl.State.Inflight.Set(p)
	}
}
