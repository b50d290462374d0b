#!/bin/sh
# The PostgreSQL container of the `scaled` profile: on the first start, a cluster in $PGDATA whose superuser
# `scorerecon` has the password $SCORERECON_DB_PASSWORD (required: the database is reached over the network, with
# scram-sha-256) and a database `scorerecon`; then the server in the foreground (SIGINT: a fast shutdown).
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  [ -n "${SCORERECON_DB_PASSWORD:-}" ] || { echo "postgres: set SCORERECON_DB_PASSWORD" >&2; exit 1; }
  pw=$(mktemp)
  printf '%s\n' "$SCORERECON_DB_PASSWORD" >"$pw"
  initdb -D "$PGDATA" -U scorerecon --pwfile="$pw" --auth-local=peer --auth-host=scram-sha-256 -E UTF8 >/dev/null
  rm -f "$pw"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "CREATE DATABASE scorerecon;" | postgres --single -D "$PGDATA" postgres >/dev/null
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
