# SPDX-License-Identifier: MIT
# herald: multi-stage Debian bookworm build; the runtime image holds only the
# binary, the shared libraries it still needs, the web console and the CA
# bundle.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake \
      pkg-config libmicrohttpd-dev libwolfssl-dev libcjson-dev libsqlite3-dev \
      libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake ./cmake
COPY common ./common
COPY engine ./engine
COPY pki ./pki
COPY server ./server
COPY web ./web
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build --strip

FROM debian:bookworm-slim
# no libmicrohttpd12: herald links libmicrohttpd.a without GnuTLS
# (server/mhd_notls.c), so neither it nor GnuTLS is needed at run time;
# no libwolfssl35 or libsqlite3-0 either: herald links them statically
# (CMakeLists.txt, HERALD_STATIC_LIBS). libpq5 is loaded for a PostgreSQL
# URL only.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcjson1 libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/herald --shell /usr/sbin/nologin herald \
 && mkdir -p /var/lib/herald && chown herald:herald /var/lib/herald && chmod 0700 /var/lib/herald
COPY --from=build /usr/local/bin/herald /usr/local/bin/herald
COPY --from=build /usr/local/share/herald /usr/local/share/herald
ENV HERALD_LISTEN=0.0.0.0:8080 \
    HERALD_DATA_DIR=/var/lib/herald \
    HERALD_WEB_DIR=/usr/local/share/herald/web
USER herald
VOLUME ["/var/lib/herald"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/herald", "health"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/herald"]
CMD ["serve"]
