package mqtt

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/edgepipe/edgepipe/pipeline"
)

// fakeBroker accepts one MQTT connection on ln, answers its CONNECT and SUBSCRIBE, then
// writes stream (PUBLISH packets) and answers PINGREQs until the connection closes.
func fakeBroker(b *testing.B, ln net.Listener, stream []byte) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	for {
		p, err := packets.ReadPacket(conn)
		if err != nil {
			return
		}
		switch p := p.(type) {
		case *packets.ConnectPacket:
			ack := packets.NewControlPacket(packets.Connack).(*packets.ConnackPacket)
			if err := ack.Write(conn); err != nil {
				return
			}
		case *packets.SubscribePacket:
			ack := packets.NewControlPacket(packets.Suback).(*packets.SubackPacket)
			ack.MessageID, ack.ReturnCodes = p.MessageID, p.Qoss
			if err := ack.Write(conn); err != nil {
				return
			}
			go conn.Write(stream)
		case *packets.PingreqPacket:
			packets.NewControlPacket(packets.Pingresp).Write(conn)
		}
	}
}

// BenchmarkSourceQoS0 measures the source's inbound path per message at QoS 0 — paho's
// reader and router goroutines, the handler, the channel into the pipeline and the
// record's Done — against a fake broker on a local TCP connection that only writes
// prepared PUBLISH packets (the demo's payloads), so that nearly all the CPU time is
// the client's: ns, CPU ns and allocations per message.
func BenchmarkSourceQoS0(b *testing.B) {
	var stream bytes.Buffer
	for i := range b.N {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.TopicName = "bench/sensor-" + string(rune('a'+i%26)) + "/reading"
		p.Payload = []byte(`{"ts":1704067200000,"value":12.5}`)
		if err := p.Write(&stream); err != nil {
			b.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go fakeBroker(b, ln, stream.Bytes())
	s, err := NewSource(SourceOptions{URL: "tcp://" + ln.Addr().String(), Topics: []string{"bench/+/reading"}, ClientID: "bench", QoS: 0}, testEnv())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	out := make(chan *pipeline.Record, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	go s.Run(ctx, out)
	timeout := time.After(time.Minute)
	for range b.N {
		select {
		case r := <-out:
			r.Done()
		case <-timeout:
			b.Fatal("messages missing after a minute")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
