# PostgreSQL for the `scaled` profile of docker/compose.yaml: Debian bookworm's own `postgresql` package (no other
# registry image is needed; BASE_IMAGE as in docker/Dockerfile). The data lives in the volume at
# /var/lib/postgresql/data; docker/postgres-entrypoint.sh creates the cluster on the first start.
ARG BASE_IMAGE=debian:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 0775 /var/run/postgresql
COPY docker/postgres-entrypoint.sh /usr/local/lib/scorerecon/postgres-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
VOLUME ["/var/lib/postgresql/data"]
EXPOSE 5432
USER postgres
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=5 CMD ["pg_isready", "-h", "127.0.0.1", "-q"]
ENTRYPOINT ["/bin/sh", "/usr/local/lib/scorerecon/postgres-entrypoint.sh"]
