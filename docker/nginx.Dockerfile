# nginx with ngx_http_fado_module, built against the image's own nginx
# (Debian's nginx-dev ships its configure flags) so load_module accepts it.
# Build from the repository root: docker build -f docker/nginx.Dockerfile .
FROM debian:12.8-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      nginx nginx-dev libhiredis-dev libpcre2-dev zlib1g-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY config ./
COPY ngx_fado_module ./ngx_fado_module
# conf_flags is a bash array, hence bash.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN cp -r /usr/share/nginx/src /tmp/nginx \
 && cd /tmp/nginx \
 && . ./conf_flags \
 && ./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module=/src \
 && make -f objs/Makefile modules \
 && cp objs/ngx_http_fado_module.so /src/

FROM debian:12.8-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends nginx libhiredis0.14 curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/ngx_http_fado_module.so /usr/lib/nginx/modules/ngx_http_fado_module.so
COPY docker/nginx.conf /etc/nginx/nginx.conf
# nginx starts as root only to drop to www-data: run it unprivileged from the
# start on a high port instead.
RUN chown -R www-data:www-data /var/lib/nginx /var/log/nginx
USER www-data
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8081/fado/status || exit 1
ENTRYPOINT ["nginx", "-g", "daemon off;"]
