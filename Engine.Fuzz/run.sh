#!/usr/bin/env bash
# Fuzzes one Engine.Fuzz target with AFL++ for a bounded time (docs/fuzzing.md).
#   Engine.Fuzz/run.sh TARGET SECONDS     e.g. run.sh request 60
#   Engine.Fuzz/run.sh prepare            build, instrument Engine.dll, write the seeds (run.sh does it too)
# Environment: FUZZ_WORK (default /tmp/engine-fuzz) holds the instrumented build, seeds and findings
# (FUZZ_WORK/out/TARGET/default/{crashes,hangs,queue}); FUZZ_SKIP_PREPARE=1 reuses the last build.
# Prints "fuzz TARGET: execs=N crashes=N hangs=N" and exits 1 when afl-fuzz saved a crash or a hang.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
work="${FUZZ_WORK:-/tmp/engine-fuzz}"
target="${1:?usage: run.sh TARGET SECONDS | run.sh prepare}"

prepare() {
  command -v afl-fuzz >/dev/null 2>&1 || { echo "run.sh: afl-fuzz not found (apt-get install afl++)" >&2; exit 2; }
  mkdir -p "$work"
  dotnet build "$here/Engine.Fuzz.csproj" -c Release -nologo -v q -o "$work/build" >/dev/null
  # sharpfuzz rewrites Engine.dll in place to report branch coverage to afl-fuzz; only Engine is instrumented,
  # so the harness, the BCL and SharpFuzz itself add no noise to the coverage map.
  if [ ! -x "$work/tools/sharpfuzz" ]; then
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$work/tools" >/dev/null
  fi
  rm -rf "$work/bin" "$work/seeds"
  cp -r "$work/build" "$work/bin"
  "$work/tools/sharpfuzz" "$work/bin/Engine.dll" >/dev/null
  dotnet "$work/bin/Engine.Fuzz.dll" --make-seeds "$work/seeds" \
    "$repo/Engine.Tests/Http/Vectors/llhttp-requests.jsonl" "$repo/Engine.Tests/Http/Vectors/malformed-requests.jsonl"
}

if [ "$target" = prepare ]; then
  prepare
  exit 0
fi

seconds="${2:?usage: run.sh TARGET SECONDS}"
[ "${FUZZ_SKIP_PREPARE:-0}" = 1 ] && [ -f "$work/bin/Engine.Fuzz.dll" ] || prepare
[ -d "$work/seeds/$target" ] || { echo "run.sh: unknown target $target ($(ls "$work/seeds" | tr '\n' ' '))" >&2; exit 2; }

dict=()
case "$target" in
  request|response|chunked) dict=(-x "$here/dict/http.dict") ;;
  rules) dict=(-x "$here/dict/rules.dict") ;;
esac

out="$work/out/$target"
rm -rf "$out"; mkdir -p "$work/out"
# The .NET runtime is not an afl-instrumented binary (AFL_SKIP_BIN_CHECK); a pipe in core_pattern or a
# CPU governor we cannot change must not stop a CI run. -t 10000: a hang is an input that keeps one
# execution busy for 10 s, far above the microseconds a parse takes, so machine load is not a finding.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
# Now and then (seen twice, both for chunked) the dry run's first execution reports an empty coverage
# map ("No instrumentation detected") although Engine.dll is instrumented; one more start gets past it.
for attempt in 1 2; do
  rm -rf "$out"
  timeout --signal=INT "$seconds" afl-fuzz -i "$work/seeds/$target" -o "$out" -t 10000 -m none "${dict[@]}" \
    -- dotnet "$work/bin/Engine.Fuzz.dll" "$target" >"$work/afl-$target.log" 2>&1 || true
  grep -q "No instrumentation detected" "$work/afl-$target.log" || break
  echo "fuzz $target: afl-fuzz saw no coverage on its first run (attempt $attempt)" >&2
done

stats="$out/default/fuzzer_stats"
if [ ! -f "$stats" ]; then
  echo "fuzz $target: afl-fuzz did not start; last lines of $work/afl-$target.log:" >&2
  tail -n 20 "$work/afl-$target.log" >&2
  exit 1
fi
stat() { awk -F': *' -v k="$1" '$1 ~ "^"k" *$" { print $2 }' "$stats"; }
execs="$(stat execs_done)"; crashes="$(stat saved_crashes)"; hangs="$(stat saved_hangs)"
echo "fuzz $target: execs=$execs crashes=$crashes hangs=$hangs corpus=$(stat corpus_count) seconds=$seconds"
if [ "${crashes:-0}" != 0 ] || [ "${hangs:-0}" != 0 ]; then
  echo "fuzz $target: findings in $out/default/crashes and $out/default/hangs; replay with" >&2
  echo "  dotnet $work/build/Engine.Fuzz.dll $target $out/default/crashes $out/default/hangs" >&2
  for f in "$out"/default/crashes/id* "$out"/default/hangs/id*; do
    [ -f "$f" ] && { echo "--- $f" >&2; dotnet "$work/build/Engine.Fuzz.dll" "$target" "$f" 2>&1 | head -n 5 >&2 || true; }
  done
  exit 1
fi
