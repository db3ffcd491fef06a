#!/usr/bin/env bash
# ab.sh A B [ROUNDS]: alternating fresh engines of two builds (Engine.dll or published executables),
# each through cold.sh (six 6 s wrk windows from start); a build's steady figure is the median of
# its windows 2-6. Only ratios within one alternating run count on a shared box.
# Env for one side only: ENV_A / ENV_B (e.g. ENV_B=DOTNET_TieredPGO=1 with A = B).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
A="${1:?usage: ab.sh A B [ROUNDS]}"; B="${2:?usage: ab.sh A B [ROUNDS]}"; ROUNDS="${3:-3}"
for r in $(seq 1 "$ROUNDS"); do
  for side in A B; do
    if [ $side = A ]; then dll=$A; envs="${ENV_A:-}"; else dll=$B; envs="${ENV_B:-}"; fi
    echo "== round $r $side ($dll${envs:+ $envs}) $(date +%T)"
    E="$dll" ENGINE_ENV="$envs" "$HERE/cold.sh" | awk '
      /^rps=/ { n++; for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
                if (n > 1) { rps[n - 1] = v["rps"]; cpu[n - 1] = v["cpu_us_per_req"]; p99[n - 1] = v["p99_ms"] } print; next }
      { print }
      function median(a, m,   i, j, t) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
      END { printf "steady (windows 2-%d, medians): %.0f req/s, %.1f CPU µs/req, p99 %.2f ms\n", n, median(rps, n - 1), median(cpu, n - 1), median(p99, n - 1) }'
  done
done
