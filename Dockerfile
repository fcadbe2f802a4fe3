# syntax=docker/dockerfile:1
# attrsync: multi-stage build with cargo-chef so dependency layers are cached between builds.

FROM rust:1-slim-bookworm AS chef
RUN cargo install cargo-chef --locked
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml / Cargo.lock change.
RUN cargo chef cook --release --recipe-path recipe.json --bin attrsync
COPY . .
RUN cargo build --release --locked --bin attrsync

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/attrsync attrsync
WORKDIR /var/lib/attrsync
COPY --from=builder /app/target/release/attrsync /usr/local/bin/attrsync
# Overlays (config/<ATTRSYNC_ENV>.toml) and the bundled sample for a first `run --once`.
COPY config /etc/attrsync/config
COPY --chown=attrsync:attrsync data/sample /var/lib/attrsync/data/sample
ENV ATTRSYNC_CONFIG_DIR=/etc/attrsync/config \
    ATTRSYNC__LOG__FORMAT=json \
    ATTRSYNC__SERVER__BIND=0.0.0.0:9090 \
    RUST_LOG=info
USER attrsync
EXPOSE 9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9090/healthz || exit 1
ENTRYPOINT ["attrsync"]
CMD ["run"]
