# PostgreSQL 15 with pg_auto_failover from Debian, run as the postgres user; the monitor
# and both nodes of deploy/compose.ha.yaml use it.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15-auto-failover \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/pgaf && chown postgres:postgres /var/lib/pgaf
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/pgaf/data
USER postgres
WORKDIR /var/lib/pgaf
