#!/bin/sh
# SPDX-License-Identifier: MIT
# Entrypoint of the test-only PostgreSQL image (Containerfile here): the
# subset of the official postgres image's docker-entrypoint.sh that
# compose.cluster.yaml relies on.
#   POSTGRES_USER (default postgres)   the superuser initdb creates
#   POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE   its password (required)
#   POSTGRES_DB (default POSTGRES_USER) a database created on first start
#   PGDATA, PGPORT                     as for PostgreSQL itself
# On the first start (an empty PGDATA) it runs initdb, allows password
# logins (scram-sha-256) from any address and listens on all of them
# (listen_addresses = '*'; "-c listen_addresses=..." on the command line
# wins), creates the database; then it becomes the server (exec: PID 1,
# as the postgres user).
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
  exec "$@"
fi

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  # on first start the password file may be readable by root only: read it
  # here and hand it on in the environment
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ -n "${POSTGRES_PASSWORD_FILE:-}" ] &&
     [ ! -s "$PGDATA/PG_VERSION" ]; then
    POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
    export POSTGRES_PASSWORD
    unset POSTGRES_PASSWORD_FILE
  fi
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
  fi
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "entrypoint: POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is required" >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  unset POSTGRES_PASSWORD
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
    -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  printf 'host all all all scram-sha-256\n' >> "$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    # a private server (no TCP, its own socket directory, so that
    # pg_isready in the health check does not see it as the real one)
    sock=$(mktemp -d)
    pg_ctl -D "$PGDATA" -w -s \
      -o "-c listen_addresses='' -c unix_socket_directories=$sock" start
    psql -v ON_ERROR_STOP=1 -q -h "$sock" -U "$user" -d postgres \
      -c "CREATE DATABASE \"$db\"" >/dev/null
    pg_ctl -D "$PGDATA" -w -s -m fast stop
    rmdir "$sock"
  fi
  echo "entrypoint: initialised $PGDATA (user $user, database $db)"
fi
unset POSTGRES_PASSWORD
exec "$@"
