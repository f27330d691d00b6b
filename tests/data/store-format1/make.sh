#!/usr/bin/env bash
# make.sh OLD_BUILD_DIR - remakes the fixture beside it: a twin store written by mosquitto-twin 0.1.0
# (store format "mosquitto-twin 1", commit 69186a7, before models), which tests/e2e/test_upgrade.py opens
# with today's plugin. OLD_BUILD_DIR holds that release's mosquitto_twin.so and twinctl, e.g. its build
# dir after, from this repository:
#   old=$(mktemp -d) && git archive 69186a7 | tar -x -C "$old" && cd "$old" &&
#   cmake -S . -B build -DTWIN_BUILD_TESTS=OFF -DTWIN_BUILD_BENCH=OFF && cmake --build build -j2
# A broker with that plugin (history on) gets telemetry (fast and general path), a desired update the
# device has not matched yet, attributes, and a twin that is then deleted (its tombstone); then the
# store is compacted (no free pages) and gzipped to data.mdb.gz, and the old twinctl exports what it
# holds to export.jsonl, the expected twins. Needs mosquitto and mosquitto-clients.
set -euo pipefail
old=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'kill "$broker" 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=18839
broker=""
cat >"$tmp/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
log_dest stdout
$([ "$(id -u)" -ne 0 ] || echo "user root")
plugin $old/mosquitto_twin.so
plugin_opt_db_path $tmp/db
plugin_opt_history_max 5
CONF
stdbuf -oL mosquitto -c "$tmp/mosquitto.conf" >"$tmp/broker.log" 2>&1 &
broker=$!
until grep -q 'mosquitto_twin: ready' "$tmp/broker.log"; do sleep 0.1; done
rr() { mosquitto_rr -p "$port" -V 5 -e "replies/fixture" -W 5 "$@" >/dev/null; }
pub() { mosquitto_pub -p "$port" -q 1 "$@"; }

# rack-1: flat telemetry three times (the fast path; three versions of history)
for t in 24.1 24.6 25.0; do
	pub -i rack-1 -t devices/rack-1/telemetry -m "{\"tempTop\":$t,\"tempBottom\":21.3,\"fan\":\"auto\"}"
	rr -t '$twin/rack-1/get' -n
done
# rack-2: nested telemetry (the general path), attributes, a desired value the device has not reported
pub -i rack-2 -t devices/rack-2/telemetry -m '{"power":{"a":1.5,"b":1.25},"ok":true}'
rr -t '$twin/rack-2/get' -n # (a get waits for the telemetry's commit: a history entry of its own)
rr -t '$twin/rack-2/update' -m '{"attributes":{"site":"dc1","row":"A"}}'
rr -t '$twin/rack-2/update' -m '{"desired":{"fanSpeed":3}}'
# gone: created (version 1), changed (2), deleted (3: its tombstone)
rr -t '$twin/gone/update' -m '{"attributes":{"a":1}}'
rr -t '$twin/gone/update' -m '{"attributes":{"a":2}}'
rr -t '$twin/gone/delete' -n
kill "$broker"
wait "$broker" || true
"$old/twinctl" -d "$tmp/db" export "$here/export.jsonl" >/dev/null
"$old/twinctl" -d "$tmp/db" check
mkdir "$tmp/compact"
"$old/twinctl" -d "$tmp/db" compact "$tmp/compact"
gzip -9 -n -c "$tmp/compact/data.mdb" >"$here/data.mdb.gz"
ls -l "$here"
