# edgepipe — see README.md. `make run` runs the demo on real data (all embedded);
# `make test` runs the unit and end-to-end tests (no external services needed).
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN      := bin/edgepipe
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: build run test integration lint docs model clean dist

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/edgepipe

# Static release binaries for gateways (pure Go, CGO off, paths trimmed, stripped):
# dist/edgepipe-linux-amd64, -arm64 and -armv7 (32-bit ARMv7, e.g. Raspberry Pi 2/3 on a
# 32-bit OS), with their SHA-256 sums; `edgepipe version` prints VERSION and COMMIT.
DIST_FLAGS := -trimpath -ldflags "$(LDFLAGS)"
dist:
	@mkdir -p dist
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(DIST_FLAGS) -o dist/edgepipe-linux-amd64 ./cmd/edgepipe
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(DIST_FLAGS) -o dist/edgepipe-linux-arm64 ./cmd/edgepipe
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build $(DIST_FLAGS) -o dist/edgepipe-linux-armv7 ./cmd/edgepipe
	@cd dist && sha256sum edgepipe-linux-amd64 edgepipe-linux-arm64 edgepipe-linux-armv7 > SHA256SUMS
	@echo "version $(VERSION), commit $(COMMIT):"
	@cd dist && for f in edgepipe-linux-amd64 edgepipe-linux-arm64 edgepipe-linux-armv7; do \
		printf '  dist/%-22s %s bytes (%s)\n' $$f $$(stat -c %s $$f) $$(du -h $$f | cut -f1); done

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

# Retrain the shipped classifier configs/occupancy.model on the UCI Occupancy data (seeded:
# the same bytes every time; a test checks it and its test accuracy of at least 97%).
.PHONY: occupancy-model mnist
occupancy-model: build
	./$(BIN) train --dataset occupancy --out configs/occupancy.model

# Train the 784→500→10 MNIST MLP on the 60,000 training images and print its accuracy on
# the 10,000 test images (about 10–20 minutes on 2 cores). The model (about 3.6 MB) is not
# shipped: MNIST_OUT says where it goes, with its loss curve beside it.
MNIST_OUT ?= bin/mnist.model
mnist: build
	./$(BIN) train --dataset mnist --out $(MNIST_OUT) --loss-png $(MNIST_OUT:.model=-loss.png)

# Regenerate README.md's config reference from the code.
docs:
	$(GO) test ./cmd/edgepipe -run TestREADMEConfigReference -update

clean:
	rm -rf bin dist
