package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRedactorScrubsSecrets logs a secret in every place a record can carry one —
// message, string attribute, error, grouped attribute, a With attribute, a value with a
// String method — in text and in JSON, and checks that it appears in no line while the
// rest of the line stays; a value shorter than 4 characters is not treated as a secret.
func TestRedactorScrubsSecrets(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			out := &syncBuffer{}
			lg, err := (&logFlags{format: format, level: "info"}).setupTo(out, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			lg.redact.add("s3cret-pw", "tok", "")
			log := lg.With("url", "tcp://u:s3cret-pw@broker:1883")
			log.Info("connecting with s3cret-pw")
			log.Error("connect failed", "err", fmt.Errorf("dial tcp://u:s3cret-pw@broker: %w", errors.New("refused")))
			log.WithGroup("auth").Warn("auth", "password", "s3cret-pw", "token", "tok")
			log.Info("addr", "any", stringer("host with s3cret-pw"), "n", 3)
			text := strings.Join(out.lines(), "\n")
			if strings.Contains(text, "s3cret-pw") {
				t.Fatalf("a secret was logged:\n%s", text)
			}
			for _, want := range []string{"tcp://u:xxxxx@broker:1883", "connecting with xxxxx", "dial tcp://u:xxxxx@broker: refused", "host with xxxxx", "tok"} {
				if !strings.Contains(text, want) {
					t.Errorf("%q missing from:\n%s", want, text)
				}
			}
		})
	}
}

type stringer string

func (s stringer) String() string { return string(s) }
