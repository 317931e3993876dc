# Sourced by tools/bench-gateway.sh and tools/gateway-alloc.sh: starts the fast fake upstream
# (`sluice bench gateway --serve-upstream`) and a gateway in front of it (`sluice serve --role gateway`,
# auth off, loopback), each pinned with taskset when UP_CPUS / GW_CPUS name cores, waits until both
# listen, and stops both when the calling script exits.
#   SLUICE           the command (default: bin/sluice beside tools/)
#   UP_PORT, GW_PORT their ports (9100, 9200)
#   GW_JAVA_OPTS     JVM options of the gateway only; GW_HEAP its heap (2g); GW_JAR its build (default: SLUICE_JAR's)
#   GW_EXTRA_CONFIG  a YAML file appended to the gateway's config (e.g. a `limits:` section)
start_gateway_procs() {
  local root; root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  SLUICE=${SLUICE:-$root/bin/sluice}
  UP_PORT=${UP_PORT:-9100}; GW_PORT=${GW_PORT:-9200}
  local up_pin="" gw_pin=""
  [ -n "${UP_CPUS:-}" ] && up_pin="taskset -c $UP_CPUS"
  [ -n "${GW_CPUS:-}" ] && gw_pin="taskset -c $GW_CPUS"
  gw_cfg=$(mktemp --suffix=.yaml)
  cat > "$gw_cfg" <<Y
routing:
  backends:
    up: {type: openai, endpoints: ["http://127.0.0.1:$UP_PORT/v1"], model: bench}
  models:
    bench:
      versions:
        v1: {backend: up, weight: 100}
Y
  if [ -n "${GW_EXTRA_CONFIG:-}" ]; then cat "$GW_EXTRA_CONFIG" >> "$gw_cfg"; fi
  SLUICE_HEAP=1g $up_pin $SLUICE bench gateway --serve-upstream "$UP_PORT" --chunks 16 > /tmp/sluice-bench-upstream.log 2>&1 &
  up_pid=$!
  SLUICE_JAR=${GW_JAR:-${SLUICE_JAR:-}} SLUICE_JAVA_OPTS="${SLUICE_JAVA_OPTS:-} ${GW_JAVA_OPTS:-}" SLUICE_HEAP=${GW_HEAP:-2g} $gw_pin $SLUICE serve --role gateway --config "$gw_cfg" \
    --host 127.0.0.1 --port "$GW_PORT" --no-auth > /tmp/sluice-bench-gateway.log 2>&1 &
  gw_pid=$!
  trap 'kill $gw_pid $up_pid 2>/dev/null; rm -f "$gw_cfg"' EXIT
  for _ in $(seq 1 240); do
    (exec 3<>/dev/tcp/127.0.0.1/$GW_PORT) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$UP_PORT) 2>/dev/null && return 0
    sleep 0.5
  done
  echo "the gateway or the upstream did not start; see /tmp/sluice-bench-gateway.log and /tmp/sluice-bench-upstream.log" >&2
  return 1
}
