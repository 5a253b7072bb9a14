#!/bin/bash
# Roles and databases of the production stack, one owner per system (least privilege):
#   rapid_review  owns the database rapid_review (the service's records, audit trail, case index);
#   temporal      owns temporal and temporal_visibility (the engine's state; its schema tool needs no superuser).
# Neither role is a superuser, neither may create databases or roles, and neither may even connect to the
# other's databases. The superuser (POSTGRES_USER, default postgres) is for the operator and backups only.
#
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d); the test suite
# runs this same file against Debian's PostgreSQL (tests/test_compose_stack.py). Connection limits per role
# are the budget written down in docs/deploy.md ("Connection budget").
set -euo pipefail

: "${RAPID_REVIEW_DB_PASSWORD:?set RAPID_REVIEW_DB_PASSWORD (the service's database password)}"
: "${TEMPORAL_DB_PASSWORD:?set TEMPORAL_DB_PASSWORD (the Temporal server's database password)}"
RAPID_REVIEW_DB_CONNECTIONS="${RAPID_REVIEW_DB_CONNECTIONS:-100}"
TEMPORAL_DB_CONNECTIONS="${TEMPORAL_DB_CONNECTIONS:-70}"

run_sql() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" "$@"
}

run_sql --dbname postgres \
  -v app_password="$RAPID_REVIEW_DB_PASSWORD" -v temporal_password="$TEMPORAL_DB_PASSWORD" \
  -v app_connections="$RAPID_REVIEW_DB_CONNECTIONS" -v temporal_connections="$TEMPORAL_DB_CONNECTIONS" <<'SQL'
CREATE ROLE rapid_review LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT :app_connections
  PASSWORD :'app_password';
CREATE ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT :temporal_connections
  PASSWORD :'temporal_password';
CREATE DATABASE rapid_review OWNER rapid_review ENCODING 'UTF8';
CREATE DATABASE temporal OWNER temporal ENCODING 'UTF8';
CREATE DATABASE temporal_visibility OWNER temporal ENCODING 'UTF8';
-- Every role may connect to every database by default (PUBLIC); only each owner may connect here.
REVOKE ALL ON DATABASE rapid_review FROM PUBLIC;
REVOKE ALL ON DATABASE temporal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal_visibility FROM PUBLIC;
SQL

# Temporal's visibility schema needs btree_gin (trusted since PostgreSQL 13, but created here so its schema
# tool never depends on that).
run_sql --dbname temporal_visibility <<'SQL'
CREATE EXTENSION IF NOT EXISTS btree_gin;
SQL
