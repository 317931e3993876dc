#!/usr/bin/env bash
# Bytes the gateway allocates per request, plain or streamed, through a fast fake upstream:
# the delta of its jvm_gc_memory_allocated_bytes_total over the delta of sluice_upstream_requests_total
# (both from its /metrics) across a closed-loop run of `sluice bench gateway`.
#   tools/gateway-alloc.sh [plain|stream]        GW_JAR picks the gateway's build (default: the built one)
# Allocation is counted at each young collection, so the run is long enough for many of them.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=${1:-stream}
GW_HEAP=1g
. "$here/tools/gateway-procs.sh"
start_gateway_procs || exit 1
counters() {
  curl -s "http://127.0.0.1:$GW_PORT/metrics" | awk '
    /^jvm_gc_memory_allocated_bytes_total/ {a += $NF}
    /^sluice_upstream_requests_total/ {r += $NF}
    END {printf "%d %d\n", a, r}'
}
bench() { SLUICE_HEAP=1g $SLUICE bench gateway --gateway "http://127.0.0.1:$GW_PORT" --upstream "http://127.0.0.1:$UP_PORT/v1" \
  --mode "$mode" --rates 100 --duration 1 --settle-max 0 "$@" 2>/dev/null; }
bench --warmup 3 --throughput-duration 5 > /dev/null   # warm the gateway first
a=$(counters)
bench --warmup 1 --throughput-duration 10 | grep throughput
b=$(counters)
echo "$a $b" | awk -v m="$mode" '{printf "%s: %.1f MB allocated over %d requests: %.1f KB per request\n", m, ($3-$1)/1e6, $4-$2, ($3-$1)/($4-$2)/1e3}'
