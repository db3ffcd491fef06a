# Sourced by the scripts here: a fresh engine pinned to CPU 1 from its start (the runtime sizes its
# threads to the CPUs it sees then), on the config in bench.json (127.0.0.1:19000, admin :19090,
# access log off, IP auth for loopback, one direct node), and wrk against it through the peer
# scripts (load generator on CPU 0). The origin must be running: PEER_SCRIPTS/start-peers.sh origin.
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPTS/../.." && pwd)"
PEER_SCRIPTS="${PEER_SCRIPTS:-/work/shared/bench/peers}"
E="${E:-$REPO/Engine/bin/Release/net10.0/Engine.dll}"   # an Engine.dll, or a published executable
ENGINE_PORT=19000

# start_engine [VAR=value ...]: starts $E with those environment variables; sets ENGINE_PID and
# returns once the port accepts.
start_engine() {
  local launch=(dotnet "$E"); [[ "$E" == *.dll ]] || launch=("$E")
  env "$@" taskset -c "${PROXY_CPU:-1}" "${launch[@]}" --config "$SCRIPTS/bench.json" > "${ENGINE_LOG:-/tmp/bench-engine.log}" 2>&1 &
  ENGINE_PID=$!
  for _ in $(seq 1 400); do (exec 3<>/dev/tcp/127.0.0.1/$ENGINE_PORT) 2>/dev/null && return 0; sleep 0.05; done
  echo "engine did not listen; see ${ENGINE_LOG:-/tmp/bench-engine.log}" >&2; return 1
}

# start_pair A B: two engines side by side on CPU 1, build A on :19000 (admin :19090) and build B on
# :19001 (admin :19091), with the extra VAR=value words of A_ENV and B_ENV; sets PID_A and PID_B and
# returns once both ports accept. The caller stops them (a trap on EXIT).
start_pair() {
  # shellcheck disable=SC2086
  ENGINE_LOG=/tmp/bench-engine-a.log E="$1" start_engine ${A_ENV:-} || return 1
  PID_A=$ENGINE_PID
  # shellcheck disable=SC2086
  ENGINE_LOG=/tmp/bench-engine-b.log E="$2" start_engine Engine__Listeners__0__Endpoint=127.0.0.1:19001 Engine__Admin__Endpoint=127.0.0.1:19091 ${B_ENV:-} \
    || { kill "$PID_A"; return 1; }
  PID_B=$ENGINE_PID
  # start_engine waits for :19000, which A holds already: wait for B's own port.
  for _ in $(seq 1 400); do (exec 3<>/dev/tcp/127.0.0.1/19001) 2>/dev/null && return 0; sleep 0.05; done
  echo "B did not listen; see /tmp/bench-engine-b.log" >&2; kill "$PID_A" "$PID_B"; return 1
}

# stop_engine: SIGTERM to the engine this script started (by PID), then waits for it.
stop_engine() { kill "$ENGINE_PID" 2>/dev/null; wait "$ENGINE_PID" 2>/dev/null; ENGINE_PID=; }

# wrk_window SECONDS: one keep-alive absolute-URI GET run (64 connections); prints bench-rps.sh's
# line plus cpu_us_per_req (the engine's CPU over the run per request).
wrk_window() {
  local line; line="$(DUR="${1}s" "$PEER_SCRIPTS/bench-rps.sh" "$ENGINE_PORT")"
  awk -v l="$line" 'BEGIN { n = split(l, f, " "); for (i = 1; i <= n; i++) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
    printf "%s cpu_us_per_req=%.1f\n", l, (v["rps"] > 0 ? v["proxy_cpu_pct"] / 100 / v["rps"] * 1e6 : 0) }'
}

# load MODE SECONDS: the load of the profile and syscall scripts. get: wrk keep-alive GETs; connect:
# LoadTests connect (CONNECT + GET /small + close, 64 at a time, 3,000 tunnels per second asked).
# Prints the run's line: wrk's (rps=…) or LoadTests' (ok=… tunnels).
load() {
  case "$1" in
    get) wrk_window "$2" ;;
    connect) taskset -c "${LOAD_CPU:-0}" dotnet "$REPO/LoadTests/bin/Release/net10.0/LoadTests.dll" connect \
               --proxy 127.0.0.1:$ENGINE_PORT --origin 127.0.0.1:18080 --connections 64 --requests $(( $2 * 3000 )) --pid "$ENGINE_PID" 2>&1 | tail -3 ;;
    *) echo "mode: get or connect" >&2; return 2 ;;
  esac
}
