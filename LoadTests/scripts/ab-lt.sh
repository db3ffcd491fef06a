#!/usr/bin/env bash
# ab-lt.sh A B [ROUNDS] [SECONDS]: as ab-peer.sh, but the load is `LoadTests get` (the load generator
# of `LoadTests peers`: .NET, 64 keep-alive connections) instead of wrk. Two engine builds side by
# side on CPU 1 (A :19000, B :19001; A_ENV / B_ENV: extra VAR=value for each) and HAProxy http in
# turn, one window each per round. Per request: the proxy's CPU, the origin's (nginx), the rest of
# CPU 0 (the load generator, softirqs), the proxy's epoll_wait calls and its sleeps (context
# switches), and the origin's sleeps: on this harness CPU 0 saturates first, and how many requests
# nginx finds per wake-up sets the rate (docs/performance.md, "What sets the rate under LoadTests get").
# ORIGIN_BATCH=1 runs the origin's worker as SCHED_BATCH for the run (restored at exit): a batch task
# never preempts on wake-up, which takes the harness's CPU 0 scheduling out of the comparison (a
# diagnostic; the peers runner keeps the default policy).
# Needs the origin and haproxy-http running (PEER_SCRIPTS/start-peers.sh origin haproxy-http).
set -uo pipefail
. "$(dirname "$0")/common.sh"
A="${1:?usage: ab-lt.sh A B [ROUNDS] [SECONDS]}"; B="${2:?usage: ab-lt.sh A B [ROUNDS] [SECONDS]}"
ROUNDS="${3:-4}"; SECS="${4:-4}"
LT=(dotnet "$REPO/LoadTests/bin/Release/net10.0/LoadTests.dll")
NG="$(pgrep -f 'nginx: worker' | head -1)"
[ -n "$NG" ] || { echo "origin not running: $PEER_SCRIPTS/start-peers.sh origin" >&2; exit 1; }
. "$PEER_SCRIPTS/lib.sh"
HP="$(listen_pids 18100 | head -1)"
[ -n "$HP" ] || { echo "haproxy-http not running: $PEER_SCRIPTS/start-peers.sh haproxy-http" >&2; exit 1; }
(exec 3<>/dev/tcp/127.0.0.1/$ENGINE_PORT) 2>/dev/null && { echo "127.0.0.1:$ENGINE_PORT is in use" >&2; exit 1; }

start_pair "$A" "$B" || exit 1
trap 'kill "$PID_A" "$PID_B" 2>/dev/null; wait "$PID_A" "$PID_B" 2>/dev/null; [ "${ORIGIN_BATCH:-0}" = 1 ] && chrt -o -p 0 "$NG"' EXIT
if [ "${ORIGIN_BATCH:-0}" = 1 ]; then chrt -b -p 0 "$NG" && echo "origin worker $NG: SCHED_BATCH for this run"; fi

get() { taskset -c "${LOAD_CPU:-0}" "${LT[@]}" get --proxy "127.0.0.1:$1" --origin 127.0.0.1:18080 --connections 64 --duration "$2" 2>&1 | grep -m1 'scenario='; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cpu0() { awk '/^cpu0 /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

window() { # window NAME PORT PID
  local p0 n0 c0 p1 n1 c1 out
  p0=$(ticks "$3"); n0=$(ticks "$NG"); c0=$(cpu0)
  perf stat -e 'syscalls:sys_enter_epoll_wait,sched:sched_switch' -p "$3" -x, -o /tmp/ab-lt-proxy.txt -- sleep "$((SECS - 1))" 2>/dev/null & local sp=$!
  perf stat -e 'sched:sched_switch' -p "$NG" -x, -o /tmp/ab-lt-origin.txt -- sleep "$((SECS - 1))" 2>/dev/null & local so=$!
  out="$(get "$2" "$SECS")"
  wait "$sp" "$so"
  p1=$(ticks "$3"); n1=$(ticks "$NG"); c1=$(cpu0)
  awk -v name="$1" -v l="$out" -v p=$((p1 - p0)) -v n=$((n1 - n0)) -v c=$((c1 - c0)) -v s="$SECS" -v hz="$(getconf CLK_TCK)" \
      -v pf=/tmp/ab-lt-proxy.txt -v of=/tmp/ab-lt-origin.txt 'BEGIN {
    k = split(l, f, " "); for (i = 1; i <= k; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
    ok = v["ok"] + 0; if (ok == 0) ok = 1
    w = ok * (s - 1) / s   # requests in the perf window (it is a second shorter than the load)
    FS = ","; while ((getline line < pf) > 0) { split(line, g, ","); if (g[3] ~ /epoll_wait/) waits = g[1]; if (g[3] ~ /sched_switch/) sw = g[1] }
    while ((getline line < of) > 0) { split(line, g, ","); if (g[3] ~ /sched_switch/) osw = g[1] }
    printf "%-8s rps=%d p99_ms=%.2f proxy_us=%.1f origin_us=%.1f rest_cpu0_us=%.1f proxy_waits=%.2f proxy_sleeps=%.2f origin_sleeps=%.3f\n",
      name, v["rate"], v["p99_us"] / 1000, p / hz / ok * 1e6, n / hz / ok * 1e6, (c - n) / hz / ok * 1e6, waits / w, sw / w, osw / w }'
}

get 19000 8 > /dev/null; get 19001 8 > /dev/null
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r $(date +%T)"
  window A 19000 "$PID_A"
  window B 19001 "$PID_B"
  window haproxy 18100 "$HP"
done
