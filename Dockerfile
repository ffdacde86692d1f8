# A small runtime image with no system libpq or libssl: pq-sys builds libpq from source and
# OpenSSL is vendored (feature api/vendored-openssl), exactly as `cargo build` does in CI.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin crm --features api/vendored-openssl

FROM debian:bookworm-slim
# ca-certificates: PostgreSQL over TLS (sslmode=verify-full) needs the system trust store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data crm \
    && mkdir -p /data && chown crm /data
COPY --from=build /src/target/release/crm /usr/local/bin/crm
USER crm
WORKDIR /data
# DATABASE_URL: sqlite:///data/crm.sqlite3 (the default here, kept in the /data volume) or
# postgres://user:password@host:5432/crm for production. See README.md for every setting.
ENV CRM_LISTEN=0.0.0.0:8080 \
    DATABASE_URL=sqlite:///data/crm.sqlite3 \
    RUST_LOG=info
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["crm", "healthcheck"]
ENTRYPOINT ["crm"]
CMD ["serve"]
