# edgepipe — see README.md. `make run` runs the demo on real data (all embedded);
# `make test` runs the unit and end-to-end tests (no external services needed).
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN      := bin/edgepipe
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build run test integration lint docs model clean

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/edgepipe

# ARGS passes flags to the demo, e.g. make run ARGS="--speed max".
run: build
	./$(BIN) demo $(ARGS)

test:
	$(GO) test -count=1 -timeout 5m ./...

# Against a real Mosquitto and nats-server with JetStream (.ci/run starts them):
# EDGEPIPE_IT_MQTT_URL and EDGEPIPE_IT_NATS_URL say where.
integration:
	$(GO) test -count=1 -tags integration -timeout 25m -run Integration ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Retrain the shipped model configs/demo.model (training is seeded: the same bytes every
# time; a test checks it).
model: build
	./$(BIN) train --name demo --out configs/demo.model

# Regenerate README.md's config reference from the code.
docs:
	$(GO) test ./cmd/edgepipe -run TestREADMEConfigReference -update

clean:
	rm -rf bin dist
