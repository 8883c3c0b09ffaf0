#!/usr/bin/env bash
# Prepares the real PostGIS that the tests run against: installs Debian's PostGIS for the
# machine's PostgreSQL 15 when it is missing, starts the cluster when it is down, and creates a
# fresh database with the extensions. Idempotent; CI and `npm test` both call it.
set -euo pipefail

DB_NAME="${ONEMAP_TEST_DB:-onemap_test}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
export PGHOST PGPORT PGUSER

pg_version() { ls /etc/postgresql 2>/dev/null | sort -n | tail -1; }

if ! command -v psql >/dev/null 2>&1; then
  echo "test-db: psql is missing; this machine needs PostgreSQL 15 (Debian postgresql-15)." >&2
  exit 1
fi

ver="$(pg_version)"
if [ -n "$ver" ] && [ ! -f "/usr/share/postgresql/$ver/extension/postgis.control" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-db: installing postgresql-$ver-postgis-3 from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "postgresql-$ver-postgis-3" >/dev/null
  else
    echo "test-db: PostGIS is not installed for PostgreSQL $ver; run as root: apt-get install postgresql-$ver-postgis-3" >&2
    exit 1
  fi
fi

if ! pg_isready -q; then
  if [ -n "$ver" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "test-db: starting PostgreSQL $ver"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
  pg_isready -q || { echo "test-db: PostgreSQL is not accepting connections at $PGHOST:$PGPORT" >&2; exit 1; }
fi

psql -v ON_ERROR_STOP=1 -q -d postgres -c "drop database if exists \"$DB_NAME\" with (force)" -c "create database \"$DB_NAME\""
psql -v ON_ERROR_STOP=1 -q -d "$DB_NAME" -c "create extension postgis"
echo "test-db: postgres://$PGUSER@$PGHOST:$PGPORT/$DB_NAME is ready ($(psql -tA -d "$DB_NAME" -c 'select postgis_lib_version()'))"
