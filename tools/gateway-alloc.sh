#!/usr/bin/env bash
# Bytes the gateway allocates per request, plain or streamed, through a fast fake upstream:
# the delta of its jvm_gc_memory_allocated_bytes_total over the delta of sluice_upstream_requests_total
# (both from its /metrics) across a closed-loop run of `sluice bench gateway`.
#   tools/gateway-alloc.sh [plain|stream]        SLUICE_JAR picks the gateway's build (default: the built one)
# Allocation is counted at each young collection, so the run is long enough for many of them.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=${1:-stream}
UP_PORT=${UP_PORT:-9100}; GW_PORT=${GW_PORT:-9200}
cfg=$(mktemp --suffix=.yaml)
printf 'routing:\n  backends:\n    up: {type: openai, endpoints: ["http://127.0.0.1:%s/v1"], model: bench}\n  models:\n    bench:\n      versions:\n        v1: {backend: up, weight: 100}\n' "$UP_PORT" > "$cfg"
SLUICE_JAR= SLUICE_HEAP=1g "$here/bin/sluice" bench gateway --serve-upstream "$UP_PORT" --chunks 16 > /tmp/sluice-alloc-upstream.log 2>&1 &
up=$!
SLUICE_HEAP=1g "$here/bin/sluice" serve --role gateway --config "$cfg" --host 127.0.0.1 --port "$GW_PORT" --no-auth > /tmp/sluice-alloc-gateway.log 2>&1 &
gw=$!
trap 'kill $gw $up 2>/dev/null; rm -f "$cfg"' EXIT
for _ in $(seq 1 240); do
  (exec 3<>/dev/tcp/127.0.0.1/$GW_PORT) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/$UP_PORT) 2>/dev/null && break
  sleep 0.5
done
counters() {
  curl -s "http://127.0.0.1:$GW_PORT/metrics" | awk '
    /^jvm_gc_memory_allocated_bytes_total/ {a += $NF}
    /^sluice_upstream_requests_total/ {r += $NF}
    END {printf "%d %d\n", a, r}'
}
bench() { SLUICE_JAR= SLUICE_HEAP=1g "$here/bin/sluice" bench gateway --gateway "http://127.0.0.1:$GW_PORT" --upstream "http://127.0.0.1:$UP_PORT/v1" \
  --mode "$mode" --rates 100 --duration 1 --settle-max 0 "$@" 2>/dev/null; }
bench --warmup 3 --throughput-duration 5 > /dev/null   # warm the gateway first
a=$(counters)
bench --warmup 1 --throughput-duration 10 | grep throughput
b=$(counters)
echo "$a $b" | awk -v m="$mode" '{printf "%s: %.1f MB allocated over %d requests: %.1f KB per request\n", m, ($3-$1)/1e6, $4-$2, ($3-$1)/($4-$2)/1e3}'
