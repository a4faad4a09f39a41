#!/bin/bash
# bench.sh BIN: minirunc against runc and crun (installed from Debian if
# missing), in one interleaved run. See tests/bench.
set -euo pipefail
BIN=$(readlink -f "${1:-bin/minirunc}")
for p in runc crun; do
	command -v $p >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null; }
done
cd "$(dirname "$0")/.."
go run ./tests/bench -minirunc "$BIN" -rounds "${ROUNDS:-20}"
