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
GW_CPUS=${GW_CPUS:-0,1}; UP_CPUS=${UP_CPUS:-2,3}; LG_CPUS=${LG_CPUS:-4-7}
. "$here/tools/gateway-procs.sh"
start_gateway_procs || exit 1
echo "gateway on cpus $GW_CPUS, upstream on $UP_CPUS, load generator on $LG_CPUS; $(nproc) cpus; $(uptime)" >&2
SLUICE_HEAP=2g taskset -c "$LG_CPUS" $SLUICE bench gateway --gateway "http://127.0.0.1:$GW_PORT" --upstream "http://127.0.0.1:$UP_PORT/v1" "$@"
