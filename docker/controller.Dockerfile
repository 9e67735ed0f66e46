# fado-controller: API, placement, reconciler and route publisher.
# Build from the repository root: docker build -f docker/controller.Dockerfile .
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
COPY sql ./sql
COPY scripts ./scripts
RUN make -j2 build/fado-controller

FROM debian:12.8-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 libcurl4 libjansson4 \
      libhiredis0.14 libmicrohttpd12 libssl3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --uid 10001 fado
COPY --from=build /src/build/fado-controller /usr/local/bin/fado-controller
USER 10001
# In a container the API must be reachable from the network namespace's
# peers; the secrets come from the environment (compose secrets), never argv.
ENV FADO_LISTEN=0.0.0.0:8750
EXPOSE 8750
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8750/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/fado-controller"]
