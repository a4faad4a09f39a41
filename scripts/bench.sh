#!/bin/bash
# bench.sh BIN: minirunc against runc and crun (installed from Debian if
# missing), in one interleaved, rotated run, with peak RSS from GNU time
# (installed if missing). See tests/bench. Environment: ROUNDS (single
# operations, default 30), RSS_ROUNDS (5), SCALE_ROUNDS (5), BENCH_ARGS
# (more flags, e.g. "-markdown=false -scale-n 20").
set -euo pipefail
BIN=$(readlink -f "${1:-bin/minirunc}")
missing=""
for p in runc crun; do
	command -v $p >/dev/null || missing="$missing $p"
done
[ -x /usr/bin/time ] || missing="$missing time"
command -v busybox >/dev/null || missing="$missing busybox-static"
if [ -n "$missing" ]; then
	echo "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null ||
		{ DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; }
fi
cd "$(dirname "$0")/.."
# Build first, so that the bench's own compile does not overlap the run.
go build -o bin/bench ./tests/bench
# shellcheck disable=SC2086
exec bin/bench -minirunc "$BIN" -rounds "${ROUNDS:-30}" -rss-rounds "${RSS_ROUNDS:-5}" \
	-scale-rounds "${SCALE_ROUNDS:-5}" ${BENCH_ARGS:-}
