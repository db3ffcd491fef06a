#!/usr/bin/env bash
# CI-sized fuzzing: every target for SECONDS (default 40) one after another, after one build.
# Exits 1 when any target saved a crash or a hang; prints executions per target.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-40}"
"$here/run.sh" prepare || exit 1
status=0
for target in request chunked response rules socks5 proxyheader; do
  FUZZ_SKIP_PREPARE=1 "$here/run.sh" "$target" "$seconds" || status=1
done
exit $status
