#!/usr/bin/env bash
# prof.sh [get|connect] [TOP]: perf record (10 s, call graphs) of a warmed engine under load, then its
# flat profile by symbol. JIT-compiled frames are named through the runtime's perf map; W^X is off so
# the map's addresses are the ones that run. The engine is warmed 20 s first (tiered JIT).
set -uo pipefail
. "$(dirname "$0")/common.sh"
MODE="${1:-get}"; TOP="${2:-80}"
start_engine DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 ${ENGINE_ENV:-} || exit 1
load "$MODE" 20
load "$MODE" 14 & W=$!
sleep 2
perf record -F 2999 -g -p "$ENGINE_PID" -o /tmp/bench-perf.data -- sleep 10 > /dev/null 2>&1
wait $W
perf report -i /tmp/bench-perf.data --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8
perf report -i /tmp/bench-perf.data --no-children --sort sym --stdio -g none --percent-limit 0.1 2>/dev/null | grep -v '^#' | grep -v '^$' | head -"$TOP"
stop_engine
