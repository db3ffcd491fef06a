#!/usr/bin/env bash
# threads.sh: which of a warmed engine's threads ran and woke during a 10 s wrk run: CPU ticks,
# voluntary and involuntary context switches per thread (from /proc). On one pinned core every
# wake-up of a timer or pool thread takes the core from the event loop.
set -uo pipefail
. "$(dirname "$0")/common.sh"
start_engine ${ENGINE_ENV:-} || exit 1
wrk_window 15 > /dev/null
snap() { for t in /proc/$ENGINE_PID/task/*; do
    read -r -a f < "$t/stat"
    echo "${t##*/}|$(cat "$t/comm")|$((f[13] + f[14]))|$(awk '/^voluntary/{print $2}' "$t/status")|$(awk '/^nonvoluntary/{print $2}' "$t/status")"
  done | sort; }
snap > /tmp/bench-threads0
wrk_window 10
snap > /tmp/bench-threads1
stop_engine
join -t'|' /tmp/bench-threads0 /tmp/bench-threads1 | awk -F'|' '{ d = $7 - $3; v = $8 - $4; n = $9 - $5
  if (d > 0 || v > 10 || n > 10) printf "%-18s cpu_ticks=%d voluntary=%d involuntary=%d\n", $2, d, v, n }'
