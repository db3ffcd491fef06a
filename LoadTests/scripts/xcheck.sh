#!/usr/bin/env bash
# xcheck.sh: the wrk cross-check of LoadTests peers: a fresh engine ($E, pinned to CPU 1, warmed
# 20 s) added to the peer scripts' run-all.sh beside HAProxy in http and tcp mode (REPS=3, 8 s ×
# 64 connections, tests rps, rate and bulk); prints run-all.sh's table of medians. Starts the
# origin and the two HAProxies with start-peers.sh and stops them at the end.
set -uo pipefail
. "$(dirname "$0")/common.sh"
"$PEER_SCRIPTS/start-peers.sh" origin haproxy-tcp haproxy-http > /dev/null 2>&1
start_engine ${ENGINE_ENV:-} || exit 1
wrk_window 20 > /dev/null
REPS="${REPS:-3}" TESTS="${TESTS:-rps rate bulk}" START=0 \
  PEERS="haproxy-tcp:18101:raw haproxy-http:18100:absonly" EXTRA_PEERS="engine:$ENGINE_PORT:proxy" \
  "$PEER_SCRIPTS/run-all.sh"
stop_engine
"$PEER_SCRIPTS/stop-peers.sh" > /dev/null 2>&1
