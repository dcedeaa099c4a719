# edgepipe in a container: a static binary (pure Go, CGO off) on distroless/static, run as
# a non-root user, its SQLite database in the volume /var/lib/edgepipe.
#
#   docker build -t edgepipe --build-arg VERSION=$(git describe --tags --always --dirty) \
#       --build-arg COMMIT=$(git rev-parse --short HEAD) .
#   docker run --rm edgepipe demo --speed max                     # the demo, all embedded
#   docker run -d --name edgepipe -v edgepipe:/var/lib/edgepipe -p 9464:9464 \
#       -e EDGEPIPE_MQTT_URL=tcp://broker:1883 -e EDGEPIPE_NATS_URL=nats://nats:4222 \
#       --env-file /etc/edgepipe/secrets.env edgepipe              # `run` on configs/demo.yaml
#
# Another pipeline: mount it and its model, e.g. -v $PWD/my.yaml:/etc/edgepipe/pipeline.yaml:ro.
# For other platforms: docker buildx build --platform linux/arm64,linux/arm/v7 … (the
# build stage cross-compiles; no emulation needed).

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG TARGETVARIANT
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOARM=${TARGETVARIANT#v} \
    go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
    -o /out/usr/local/bin/edgepipe ./cmd/edgepipe \
 && mkdir -p /out/var/lib/edgepipe /out/etc/edgepipe \
 && cp configs/demo.yaml /out/etc/edgepipe/pipeline.yaml \
 && cp configs/demo.model /out/etc/edgepipe/model.model

# distroless/static: CA certificates (ssl://, tls:// servers), time zones, /tmp, and a
# nonroot user (65532); no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/usr/local/bin/edgepipe /usr/local/bin/edgepipe
COPY --from=build /out/etc/edgepipe /etc/edgepipe
COPY --from=build --chown=65532:65532 /out/var/lib/edgepipe /var/lib/edgepipe
USER 65532:65532
ENV EDGEPIPE_DB=/var/lib/edgepipe/edgepipe.db \
    EDGEPIPE_MODEL=/etc/edgepipe/model.model
WORKDIR /var/lib/edgepipe
VOLUME ["/var/lib/edgepipe"]
# Prometheus metrics, /healthz and /readyz.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/edgepipe"]
CMD ["run", "-c", "/etc/edgepipe/pipeline.yaml", "--metrics", "0.0.0.0:9464"]
