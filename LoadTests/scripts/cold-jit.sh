#!/usr/bin/env bash
# cold-jit.sh [ROUNDS] [SECONDS]: what a fresh engine compiles while it serves. Per round, a fresh
# engine ($E) pinned to CPU 1, each variant in turn (default, then ENGINE_ENV_B: by default the
# start-up warm-up off); /metrics is read the moment the port accepts and after one wrk window
# (SECONDS, 6): methods the JIT compiled and its time in that window against the engine's CPU
# time, the window's req/s and p99. The JIT's share of the first seconds, read from the runtime
# itself rather than from a rate the neighbours of a shared box move.
set -uo pipefail
. "$(dirname "$0")/common.sh"
ROUNDS="${1:-3}"; SECONDS_PER="${2:-6}"
ENV_B="${ENGINE_ENV_B:-ENGINE__WARMUP=false}"
scrape() { curl -s -H "Authorization: Bearer bench-admin-token-0123456789" http://127.0.0.1:19090/metrics |
  awk '/^dotnet_jit_compiled_methods_total /{m=$2} /^dotnet_jit_compilation_time_seconds_total /{j=$2}
       /^dotnet_process_cpu_time_seconds_total/{c+=$2} END { printf "%s %s %s\n", m, j, c }'; }
one() {   # one fresh engine with the given environment
  local t0; t0=$(date +%s.%N)
  start_engine "$@" || return 1
  local listening; listening=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  local before after line
  before=$(scrape); line=$(wrk_window "$SECONDS_PER"); after=$(scrape)
  stop_engine
  awk -v b="$before" -v a="$after" -v l="$line" -v s="$listening" -v v="${*:-default}" 'BEGIN {
    split(b, x, " "); split(a, y, " "); n = split(l, f, " "); for (i = 1; i <= n; i++) { split(f[i], kv, "="); w[kv[1]] = kv[2] }
    cpu = y[3] - x[3]; jit = y[2] - x[2]
    printf "%-22s listening_after_s=%s jit_methods=%d jit_s=%.3f cpu_s=%.2f jit_share=%.1f%% rps=%s p99_ms=%s\n",
      v, s, y[1] - x[1], jit, cpu, (cpu > 0 ? 100 * jit / cpu : 0), w["rps"], w["p99_ms"] }'
}
for _ in $(seq 1 "$ROUNDS"); do
  one ${ENGINE_ENV:-}
  one $ENV_B
done
