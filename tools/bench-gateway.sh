#!/usr/bin/env bash
# sluice bench gateway with each part in its own process and on its own cores (Linux, taskset):
# the fast fake upstream (UP_CPUS), the gateway `sluice serve --role gateway` (GW_CPUS, default 2 cores)
# and the load generator (LG_CPUS). Extra arguments go to the load generator, e.g.
#   GW_CPUS=0,1 UP_CPUS=4-7 LG_CPUS=8-15 tools/bench-gateway.sh --duration 10 --concurrency 128
# SLUICE names the command to run (default: bin/sluice beside this script's folder).
# GW_JAVA_OPTS are JVM options for the gateway process only (e.g. its garbage collector).
# GW_EXTRA_CONFIG names a YAML file appended to the gateway's config (e.g. a `limits:` section).
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SLUICE=${SLUICE:-$here/bin/sluice}
GW_CPUS=${GW_CPUS:-0,1}; UP_CPUS=${UP_CPUS:-2,3}; LG_CPUS=${LG_CPUS:-4-7}
UP_PORT=${UP_PORT:-9100}; GW_PORT=${GW_PORT:-9200}
cfg=$(mktemp --suffix=.yaml)
cat > "$cfg" <<Y
routing:
  backends:
    up: {type: openai, endpoints: ["http://127.0.0.1:$UP_PORT/v1"], model: bench}
  models:
    bench:
      versions:
        v1: {backend: up, weight: 100}
Y
if [ -n "${GW_EXTRA_CONFIG:-}" ]; then cat "$GW_EXTRA_CONFIG" >> "$cfg"; fi
SLUICE_HEAP=1g taskset -c "$UP_CPUS" $SLUICE bench gateway --serve-upstream "$UP_PORT" --chunks 16 > /tmp/sluice-bench-upstream.log 2>&1 &
up=$!
SLUICE_JAVA_OPTS="${SLUICE_JAVA_OPTS:-} ${GW_JAVA_OPTS:-}" SLUICE_HEAP=2g taskset -c "$GW_CPUS" $SLUICE serve --role gateway --config "$cfg" --host 127.0.0.1 --port "$GW_PORT" --no-auth > /tmp/sluice-bench-gateway.log 2>&1 &
gw=$!
trap 'kill $gw $up 2>/dev/null; rm -f "$cfg"' EXIT
for _ in $(seq 1 240); do
  (exec 3<>/dev/tcp/127.0.0.1/$GW_PORT) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$UP_PORT) 2>/dev/null && break
  sleep 0.5
done
echo "gateway on cpus $GW_CPUS, upstream on $UP_CPUS, load generator on $LG_CPUS; $(nproc) cpus; $(uptime)" >&2
SLUICE_HEAP=2g taskset -c "$LG_CPUS" $SLUICE bench gateway --gateway "http://127.0.0.1:$GW_PORT" --upstream "http://127.0.0.1:$UP_PORT/v1" "$@"
