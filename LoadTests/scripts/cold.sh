#!/usr/bin/env bash
# cold.sh [WINDOWS] [SECONDS]: a fresh engine ($E) pinned to CPU 1 from birth gets back-to-back wrk
# windows (6 × 6 s) from the moment its port accepts. Prints each window, then the first window ÷
# the median of the later half (windows 4-6, as LoadTests peers' cold column), in req/s and in
# requests per CPU second of the engine (what it would do with the core to itself: the neighbours
# of a shared box move the wall-clock figure).
set -uo pipefail
. "$(dirname "$0")/common.sh"
WINDOWS="${1:-6}"; SECONDS_PER="${2:-6}"
start_engine ${ENGINE_ENV:-} || exit 1
out="$(for _ in $(seq 1 "$WINDOWS"); do wrk_window "$SECONDS_PER"; done)"
stop_engine
echo "$out"
echo "$out" | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    r[NR] = v["rps"]; c[NR] = (v["cpu_us_per_req"] > 0 ? 1e6 / v["cpu_us_per_req"] : 0) }
  function steady(a, n,   s, i, j, t, m, from) { from = int(n / 2) + 1; m = 0
    for (i = from; i <= n; i++) s[++m] = a[i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
    return m % 2 ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2 }
  END { printf "first ÷ median of the later half (LoadTests peers'"'"' steady rate): %.2f× req/s, %.2f× per CPU s\n", r[1] / steady(r, NR), c[1] / steady(c, NR) }'
