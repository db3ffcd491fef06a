#!/usr/bin/env bash
# syscalls.sh [get|connect]: syscalls per keep-alive GET (wrk) or per tunnel (LoadTests connect) of a
# warmed engine, counted with perf stat on the syscall tracepoints over one 6 s run (no PMU needed).
# The same for a peer: PID=<its pid> COUNT=<requests> perf stat -e 'syscalls:sys_enter_*' -p PID.
set -uo pipefail
. "$(dirname "$0")/common.sh"
MODE="${1:-get}"
start_engine ${ENGINE_ENV:-} || exit 1
load "$MODE" 20 > /dev/null
perf stat -e 'syscalls:sys_enter_*' -p "$ENGINE_PID" -o /tmp/bench-syscalls.txt -- sleep 7 > /dev/null 2>&1 & S=$!
sleep 0.5
line="$(load "$MODE" 6)"
wait $S
stop_engine
echo "$line"
count="$(grep -o ' ok=[0-9]*' <<<"$line" | cut -d= -f2)"
[ -z "$count" ] && count="$(grep -o 'rps=[0-9.]*' <<<"$line" | cut -d= -f2 | awk '{ printf "%d", $1 * 6 }')"
awk -v n="${count:-0}" '$2 ~ /^syscalls:sys_enter_/ && $1 != "0" { c = $1; gsub(/,/, "", c); sub(/syscalls:sys_enter_/, "", $2)
    if (n > 0) printf "%-20s %8.3f per operation\n", $2, c / n; t += c }
  END { if (n > 0) printf "%-20s %8.3f per operation (%d operations; the 0.5 s around the run adds a little)\n", "all", t / n, n }' /tmp/bench-syscalls.txt
