#!/usr/bin/env bash
# Runs the HTTP integration tests against a real PostgreSQL 15 server started
# in a temp dir on 127.0.0.1 (a free port), as the unprivileged 'postgres'
# user when run as root. Usage: run_pg.sh <test_http> <mlambda> <make_models.py>
set -euo pipefail
TEST_BIN=$1; MLAMBDA=$2; MODELS_PY=$3
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
if [ ! -x "$PGBIN/initdb" ]; then
  echo "FAIL: PostgreSQL 15 is not installed ($PGBIN/initdb missing); run scripts/install-deps.sh" >&2
  exit 1
fi
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  RUNAS=(runuser -u postgres --)
fi
PGDIR=$(mktemp -d /tmp/mlambda-pg-XXXXXX)
chmod 755 "$PGDIR"
[ ${#RUNAS[@]} -eq 0 ] || chown postgres "$PGDIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
cleanup() {
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
"${RUNAS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U mlambda --auth=trust -E UTF8 >"$PGDIR/initdb.log" 2>&1 \
  || { cat "$PGDIR/initdb.log" >&2; exit 1; }
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/pg.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDIR -c fsync=off" start >/dev/null \
  || { cat "$PGDIR/pg.log" >&2; exit 1; }
"${RUNAS[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U mlambda mlambda
echo "PostgreSQL 15 on 127.0.0.1:$PORT"
MLAMBDA_TEST_DB="postgres://mlambda@127.0.0.1:$PORT/mlambda" "$TEST_BIN" "$MLAMBDA" "$MODELS_PY"
