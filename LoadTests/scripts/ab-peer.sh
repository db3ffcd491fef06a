#!/usr/bin/env bash
# ab-peer.sh A B [ROUNDS] [SECONDS]: two engine builds (Engine.dll or published executables) and
# HAProxy (http mode, the peers' config) in turn: both engines run side by side on CPU 1 (A on
# :19000, B on :19001), are warmed 5 s each, then every round gives each of the three one
# keep-alive GET window, so the box's drift falls on all three alike. Per request: the proxy's CPU, the origin's (nginx), the rest of
# CPU 0 (wrk), and the origin's epoll_wait calls (how many requests it finds per wake-up: a proxy
# that sends a batch back to back lets it take many at once). Needs the origin and haproxy-http
# running (PEER_SCRIPTS/start-peers.sh origin haproxy-http). Only ratios within one run count.
# A_ENV / B_ENV: extra VAR=value words for each engine. HOLD_B=N: before the warm-up, B holds N
# idle CONNECT tunnels (each with one GET through it) for 5 s, as the long-lived engine of
# `LoadTests peers` does first; with A = B that asks whether a process that once held many tunnels
# serves keep-alive GETs slower than a fresh one.
set -uo pipefail
. "$(dirname "$0")/common.sh"
. "$PEER_SCRIPTS/lib.sh"
A="${1:?usage: ab-peer.sh A B [ROUNDS] [SECONDS]}"; B="${2:?usage: ab-peer.sh A B [ROUNDS] [SECONDS]}"
ROUNDS="${3:-3}"; SECS="${4:-6}"
NGINX="$(pgrep -f 'nginx: worker' | head -1)"
[ -n "$NGINX" ] || { echo "origin not running: $PEER_SCRIPTS/start-peers.sh origin" >&2; exit 1; }
[ -n "$(listen_pids 18100)" ] || { echo "haproxy-http not running: $PEER_SCRIPTS/start-peers.sh haproxy-http" >&2; exit 1; }

window() { # window NAME PORT
  local n0 n1 c0 c1 line
  n0=$(port_cpu_jiffies 18080); c0=$(awk '/^cpu0 /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
  (DUR=${SECS}s "$PEER_SCRIPTS/bench-rps.sh" "$2" > /tmp/ab-peer-line.txt) & local load=$!
  perf stat -e syscalls:sys_enter_epoll_wait -p "$NGINX" -x, -o /tmp/ab-peer-perf.txt -- sleep "$((SECS - 1))" 2>/dev/null
  wait "$load"
  line="$(cat /tmp/ab-peer-line.txt)"
  n1=$(port_cpu_jiffies 18080); c1=$(awk '/^cpu0 /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
  local waits; waits=$(awk -F, '$1 ~ /^[0-9]+$/ {print $1}' /tmp/ab-peer-perf.txt)
  awk -v name="$1" -v l="$line" -v n=$((n1 - n0)) -v c=$((c1 - c0)) -v s="$SECS" -v w="${waits:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(l, f, " "); for (i in f) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
    r = v["rps"] * s; if (r == 0) r = 1
    printf "%-8s rps=%d p99_ms=%s proxy_us=%.1f origin_us=%.1f wrk_us=%.1f origin_waits_per_req=%.3f\n",
      name, v["rps"], v["p99_ms"], v["proxy_cpu_pct"] / 100 * s / r * 1e6, n / hz / r * 1e6, (c - n) / hz / r * 1e6, w / (v["rps"] * (s - 1)) }'
}

start_pair "$A" "$B" || exit 1
trap 'kill "$PID_A" "$PID_B" 2>/dev/null; wait "$PID_A" "$PID_B" 2>/dev/null' EXIT
if [ "${HOLD_B:-0}" -gt 0 ]; then
  taskset -c "${LOAD_CPU:-0}" dotnet "$REPO/LoadTests/bin/Release/net10.0/LoadTests.dll" idle --proxy 127.0.0.1:19001 \
    --origin 127.0.0.1:18080 --connections "$HOLD_B" --tunnels 1 --probe 1 --duration 5 --pid "$PID_B" | tail -1
fi
DUR=5s "$PEER_SCRIPTS/bench-rps.sh" 19000 > /dev/null
DUR=5s "$PEER_SCRIPTS/bench-rps.sh" 19001 > /dev/null
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r $(date +%T)"
  window A 19000
  window B 19001
  window haproxy 18100
done
