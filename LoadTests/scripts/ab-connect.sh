#!/usr/bin/env bash
# ab-connect.sh A B [ROUNDS]: two engine builds side by side on CPU 1 (A :19000, B :19001, as
# ab-peer.sh), `LoadTests connect` (CONNECT + GET /small + close, 64 at a time, 6 s) against each in
# turn per round, load generator on CPU 0; prints tunnels per second and the engine's CPU µs per
# tunnel. Needs the origin running (PEER_SCRIPTS/start-peers.sh origin).
set -uo pipefail
. "$(dirname "$0")/common.sh"
A="${1:?usage: ab-connect.sh A B [ROUNDS]}"; B="${2:?usage: ab-connect.sh A B [ROUNDS]}"
start_pair "$A" "$B" || exit 1
trap 'kill "$PID_A" "$PID_B" 2>/dev/null; wait "$PID_A" "$PID_B" 2>/dev/null' EXIT
LT=(dotnet "$REPO/LoadTests/bin/Release/net10.0/LoadTests.dll")
run() {
  taskset -c "${LOAD_CPU:-0}" "${LT[@]}" connect --proxy "127.0.0.1:$1" --origin 127.0.0.1:18080 --connections 64 \
    --duration 6 --requests 1000000000 --pid "$2" 2>&1 | grep -m1 'scenario=' \
    | grep -o 'rate=[0-9]* per_s\|proxy_cpu_us_per_op=[0-9.]*' | tr '\n' ' '
}
run 19000 "$PID_A" > /dev/null; run 19001 "$PID_B" > /dev/null   # warm-up: tiered JIT
for r in $(seq 1 "${3:-4}"); do
  echo "r$r A $(run 19000 "$PID_A")"
  echo "r$r B $(run 19001 "$PID_B")"
done
