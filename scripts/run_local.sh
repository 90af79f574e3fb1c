#!/usr/bin/env bash
# Migrate the store, start one worker in the background and the API in the foreground.
# Embedded store (SQLite) and broker (files) under $REGLAB_HOME unless
# REGLAB_DATABASE_URL / REGLAB_BROKER_URL point elsewhere. Ctrl-C stops both.
set -euo pipefail
BIN=${VENV:-.venv}/bin
export REGLAB_HOME=${REGLAB_HOME:-.reglab}
HOST=${REGLAB_HOST:-127.0.0.1}
PORT=${REGLAB_PORT:-8000}
mkdir -p -m 700 "$REGLAB_HOME"  # the store, broker and checkpoints are the owner's alone

"$BIN/alembic" upgrade head
"$BIN/celery" -A workers.celery_app worker --loglevel INFO --logfile "$REGLAB_HOME/worker.log" &
worker=$!
trap 'kill -TERM "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true' EXIT

cat <<MSG

reglab is starting on http://$HOST:$PORT
  docs:    http://$HOST:$PORT/docs
  worker:  pid $worker, log in $REGLAB_HOME/worker.log
  store:   ${REGLAB_DATABASE_URL:-sqlite ($REGLAB_HOME/reglab.sqlite)}
  broker:  ${REGLAB_BROKER_URL:-embedded files ($REGLAB_HOME/broker)}

Train a run:
  curl -s -X POST http://$HOST:$PORT/experiments -H 'content-type: application/json' -d @examples/digits_mlp.json
Watch it:
  curl -s http://$HOST:$PORT/runs/1
  curl -s 'http://$HOST:$PORT/runs/1/metrics?keys=train_loss,val_acc'

MSG
"$BIN/python" -m api
