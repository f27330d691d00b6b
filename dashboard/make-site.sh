#!/usr/bin/env bash
# make-site.sh OUT_DIR - puts the rack dashboard in OUT_DIR, ready to be a websockets listener's
# `http_dir`: the page's files from this directory (its ES modules packed in modules.json) plus the MQTT.js
# browser bundle (mqtt.min.js).
#
# MQTT.js is not committed: it comes from npm, pinned (MQTTJS_VERSION) and checked against the
# sha256 of its bundle, so every run serves the same bytes. npm installs it into a cache directory
# outside the source tree, TWIN_NPM_DIR (default: ~/.cache/mosquitto-twin/npm; the CMake target
# `dashboard` uses build/npm), once per version; later runs only copy. Needs Node.js (it packs the
# modules), and npm (Debian: apt-get install nodejs npm) and the npm registry the first time.
set -euo pipefail

MQTTJS_VERSION=5.16.0
MQTTJS_SHA256=f3cbeae580d3010048938ee370f2db0c15d16e6f7fc147cb32ae5510e571b387

if [ $# -ne 1 ]; then
	echo "usage: $0 OUT_DIR" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
cache=${TWIN_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mosquitto-twin/npm}
prefix="$cache/mqtt-$MQTTJS_VERSION"
bundle="$prefix/node_modules/mqtt/dist/mqtt.min.js"

command -v node >/dev/null || { echo "$0: node not found (apt-get install nodejs)" >&2; exit 1; }
if [ ! -f "$bundle" ]; then
	command -v npm >/dev/null || { echo "$0: npm not found (apt-get install npm)" >&2; exit 1; }
	mkdir -p "$prefix"
	npm install --prefix "$prefix" --no-audit --no-fund --no-save --loglevel=error \
		"mqtt@$MQTTJS_VERSION" >&2
fi
echo "$MQTTJS_SHA256  $bundle" | sha256sum --check --quiet - ||
	{ echo "$0: $bundle is not the pinned MQTT.js $MQTTJS_VERSION bundle" >&2; exit 1; }

cp "$src"/*.html "$src"/*.css "$src"/boot.js "$out/"
cp "$bundle" "$out/mqtt.min.js"
# The page's ES modules in one file, {"app.js": "<its source>", ...}, which boot.js loads with one request
# (index.html asks for it beside the others): Mosquitto's http_dir answers a request in 0.2-0.3 s whatever
# its size when nothing keeps the broker's loop turning (the plugin does, on a broker that ticks: then a
# few ms), so the modules fetched one by one, in the waves of their imports, cost 2 s before anything is
# drawn.
node -e '
	const fs = require("fs");
	const dir = process.argv[1];
	const pack = {};
	for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".js") && f !== "boot.js").sort())
		pack[f] = fs.readFileSync(`${dir}/${f}`, "utf8");
	process.stdout.write(JSON.stringify(pack));
' "$src" >"$out/modules.json"
echo "$out"
