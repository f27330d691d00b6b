#!/usr/bin/env bash
# Mosquitto's own broker test suite (test/broker of eclipse/mosquitto at the tag of the installed broker),
# run against the installed /usr/sbin/mosquitto twice: without the plugin and with it loaded into every
# broker the suite starts. Prints both results side by side; a test whose results differ runs again
# alone (--repeat times in each mode), and the script exits 1 if one then always passes without the plugin
# but not always with it (see suite.py). Not part of CI: it needs an upstream tree, e.g.
#
#   git --git-dir=<clone of eclipse/mosquitto> archive v2.0.11 test | tar -x -C /tmp/mosq
#   tests/upstream/run-mosquitto-suite.sh /tmp/mosq build/mosquitto_twin.so [-j N] [--only REGEX] [-v]
#
# --plugin-first puts the plugin ahead of the tests' own plugins (the order the README recommends) instead
# of after everything; --keep keeps every broker's directory (config, log, database) beside the logs.
#
# It changes the upstream tree (never this repository): src/mosquitto becomes broker-wrapper.sh (see
# there for the config each broker gets), plugins/dynamic-security/ links Debian's dynamic-security
# plugin, test/broker/c/ gets its test plugins and clients built against the installed libmosquitto-dev,
# and test/ssl/ is regenerated with its own gen.sh when its certificates have expired.
set -euo pipefail

usage() {
	echo "usage: $0 <upstream tree> <mosquitto_twin.so> [-j N] [--only REGEX] [--repeat N] [--timeout S] [--plugin-first] [-v] [--keep]" >&2
	exit 2
}
[ $# -ge 2 ] || usage
src=$(cd "$1" && pwd)
plugin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
shift 2
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3 # Debian's interpreter: it imports python3-paho-mqtt
broker=${TWIN_SUITE_MOSQUITTO:-/usr/sbin/mosquitto}
keep=0
pass=()
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=1 ;;
	--plugin-first) export TWIN_SUITE_PLUGIN_FIRST=1 ;;
	-j | --only | --timeout | --first-port | --repeat)
		[ $# -ge 2 ] || usage
		pass+=("$1" "$2")
		shift
		;;
	-v) pass+=(-v) ;;
	*) usage ;;
	esac
	shift
done

[ -f "$src/test/broker/test.py" ] || {
	echo "$src: no test/broker/test.py (extract the 'test' directory of eclipse/mosquitto there)" >&2
	exit 2
}
[ -f "$plugin" ] || {
	echo "$plugin: no such plugin" >&2
	exit 2
}
version=$("$broker" -h 2>/dev/null | sed -n 's/^mosquitto version //p' || true)
echo "broker: $broker $version; plugin: $plugin; upstream tree: $src"

# the broker the tests start: ../../src/mosquitto from test/broker
mkdir -p "$src/src"
install -m 755 "$here/broker-wrapper.sh" "$src/src/mosquitto"

# the dynamic-security plugin of the 14-dynsec tests: ../../plugins/dynamic-security/...
dynsec=$(dpkg -L mosquitto 2>/dev/null | grep '/mosquitto_dynamic_security\.so$' | head -n1 || true)
if [ -n "$dynsec" ]; then
	mkdir -p "$src/plugins/dynamic-security"
	ln -sf "$dynsec" "$src/plugins/dynamic-security/mosquitto_dynamic_security.so"
else
	echo "warning: no mosquitto_dynamic_security.so in Debian's mosquitto package: the 14-dynsec tests fail" >&2
fi

# test/broker/c: the test plugins (09-plugin-*, 09-extended-auth-*) and the TLS-PSK clients (08-tls-psk-*),
# as its Makefile builds them, against the installed headers and libmosquitto
(
	cd "$src/test/broker/c"
	for c in auth_plugin_*.c plugin_control.c; do
		[ "${c%.c}.so" -nt "$c" ] || cc -Wall -fPIC -shared "$c" -o "${c%.c}.so"
	done
	for c in 08-tls-psk-*.c; do
		[ "${c%.c}.test" -nt "$c" ] || cc -Wall "$c" -o "${c%.c}.test" -lmosquitto
	done
)

# test/ssl: upstream's certificates of 2.0.11 expired in February 2025; its gen.sh makes new ones
if ! openssl x509 -checkend 3600 -noout -in "$src/test/ssl/server.crt" >/dev/null 2>&1; then
	echo "test/ssl: certificates expired, regenerating them with test/ssl/gen.sh"
	(cd "$src/test/ssl" && sh ./gen.sh >gen.log 2>&1) || {
		echo "test/ssl/gen.sh failed, see $src/test/ssl/gen.log" >&2
		exit 1
	}
fi

# "-p PORT" brokers listen on ::1 too, as Mosquitto does without a config, where the host has IPv6
if "$python" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
	export TWIN_SUITE_IPV6=1
else
	export TWIN_SUITE_IPV6=0
fi
export TWIN_SUITE_MOSQUITTO=$broker

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mosquitto-suite.XXXXXX")
rc=0
"$python" "$here/suite.py" --src "$src" --plugin "$plugin" --tmp "$tmp" "${pass[@]}" || rc=$?
if [ "$keep" = 0 ]; then
	# the logs stay; the brokers' directories (configs, twin databases) go
	find "$tmp" -mindepth 1 -type d -name 'broker.*' -prune -exec rm -rf {} +
fi
exit "$rc"
