#!/usr/bin/env bash
# Migrate the store, then run one worker and the API until stopped.
# Embedded store (SQLite) and broker (files) under $REGLAB_HOME unless
# REGLAB_DATABASE_URL / REGLAB_BROKER_URL point elsewhere.
#
# Stopping: Ctrl-C, SIGTERM to this script, or SIGTERM to its whole process group (what
# `timeout` and systemd do) all stop both services the same way. Each service runs in its
# own process group, so such a signal reaches only this script, which asks each service to
# stop (SIGTERM to its main process): the API closes its connections, the worker hands the
# run in flight back to the queue (it resumes from its checkpoint on the next start). A
# service still there after REGLAB_STOP_GRACE_SECONDS (+10 s) is killed with its children.
# (Signalled directly, Celery's pool children could die holding a lock of the pool's pipes
# and leave the worker's main process waiting for them forever.)
set -euo pipefail
BIN=${VENV:-.venv}/bin
export REGLAB_HOME=${REGLAB_HOME:-.reglab}
HOST=${REGLAB_HOST:-127.0.0.1}
PORT=${REGLAB_PORT:-8000}
STOP_SECONDS=$((${REGLAB_STOP_GRACE_SECONDS:-20} + 10))
mkdir -p -m 700 "$REGLAB_HOME"  # the store, broker and checkpoints are the owner's alone

"$BIN/alembic" upgrade head
# First start: an admin key of the default project (which holds what the store held before
# keys), written to $REGLAB_HOME/api_key, owner-only. Later starts keep it while the store
# accepts it; one it refuses (revoked, another database) is replaced, with a warning.
"$BIN/python" -m api admin bootstrap --key-file "$REGLAB_HOME/api_key" >/dev/null

stop() {
  trap '' TERM INT HUP  # a second signal does not cut the stop short
  kill -TERM "$api" "$worker" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_SECONDS))
  while kill -0 "$api" 2>/dev/null || kill -0 "$worker" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      echo "reglab: still running after ${STOP_SECONDS}s; killing it" >&2
      break
    fi
    sleep 0.2
  done
  # Whatever is left of either group (a stuck service, a pool child of a dead worker).
  kill -KILL -- "-$api" "-$worker" 2>/dev/null || true
  wait 2>/dev/null || true
}

worker="" api=""
trap 'exit 0' TERM INT HUP  # the EXIT trap below stops both services, once
trap stop EXIT
set -m  # job control: each service below is started in a process group of its own
"$BIN/celery" -A workers.celery_app worker --loglevel INFO --logfile "$REGLAB_HOME/worker.log" &
worker=$!
"$BIN/python" -m api &
api=$!
set +m

cat <<MSG

reglab is starting on http://$HOST:$PORT
  docs:    http://$HOST:$PORT/docs
  worker:  pid $worker, log in $REGLAB_HOME/worker.log
  store:   ${REGLAB_DATABASE_URL:-sqlite ($REGLAB_HOME/reglab.sqlite)}
  broker:  ${REGLAB_BROKER_URL:-embedded files ($REGLAB_HOME/broker)}
  stop:    Ctrl-C (a run in flight resumes from its checkpoint on the next start)
  api key: $REGLAB_HOME/api_key (admin, project "default"; every route but /health needs it)

Train a run:
  curl -s -X POST http://$HOST:$PORT/experiments -H "Authorization: Bearer \$(cat $REGLAB_HOME/api_key)" -H 'content-type: application/json' -d @examples/digits_mlp.json
Watch it:
  curl -s http://$HOST:$PORT/runs/1 -H "Authorization: Bearer \$(cat $REGLAB_HOME/api_key)"
  curl -s 'http://$HOST:$PORT/runs/1/metrics?keys=train_loss,val_acc' -H "Authorization: Bearer \$(cat $REGLAB_HOME/api_key)"

MSG
wait "$api" || true  # returns at once on a trapped signal; the trap stops both
