# Example function server: functions read their own cluster's MinIO.
# Build from the repository root: docker build -f docker/fado-fn.Dockerfile .
FROM debian:12.8-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      nginx-dev libpq-dev libcurl4-openssl-dev libjansson-dev \
      libhiredis-dev libmicrohttpd-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Makefile config ./
COPY mk ./mk
COPY controller ./controller
COPY examples ./examples
COPY scripts ./scripts
RUN make -j2 build/fado-fn build/fado-delay

FROM debian:12.8-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcurl4 libjansson4 \
      libmicrohttpd12 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --uid 10001 fado
COPY --from=build /src/build/fado-fn /usr/local/bin/fado-fn
COPY --from=build /src/build/fado-delay /usr/local/bin/fado-delay
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/fado-fn"]
