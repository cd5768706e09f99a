#!/bin/sh
# Runs once, when the postgres container initialises its data directory (docker-entrypoint-initdb.d).
# Creates the application's login role. It owns nothing: `migrate` connects as the owner (POSTGRES_USER,
# DATABASE_OWNER_URL) and grants this role read/write on the tables, but only SELECT and INSERT on the audit
# trail (accounts/db_roles.py), so the running platform can never rewrite history.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v app_password="$QUANTARB_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE quantarb_app LOGIN PASSWORD :'app_password';
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
