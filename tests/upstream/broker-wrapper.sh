#!/usr/bin/env bash
# Installed by run-mosquitto-suite.sh as <upstream tree>/src/mosquitto, where Mosquitto's own broker tests
# expect the broker they built ("../../src/mosquitto -v -c <conf>" or "-v -p <port>", run from test/broker).
# It runs the installed broker on a config of its own, written into a fresh directory of each broker:
#   - the test's config as it is (-c), or for "-p PORT" the listeners Mosquitto opens itself without a
#     config ("local only" mode: 127.0.0.1 and ::1, anonymous clients allowed);
#   - "user root" when run as root (Mosquitto would otherwise drop to user mosquitto, which can neither
#     write the test's persistence files nor read its files; as a normal user Mosquitto does not switch);
#   - with TWIN_SUITE_PLUGIN set: "plugin $TWIN_SUITE_PLUGIN" and "plugin_opt_db_path <fresh dir>",
#     appended last, so that no option of the test's config is taken for the plugin's; or, with
#     TWIN_SUITE_PLUGIN_FIRST=1, first, so that the plugin comes before the test's own plugins, in the
#     order the README recommends. With per_listener_settings true, plugins belong to the listener they
#     follow: the plugin is then appended last in both cases and serves the last listener only.
# Both runs of the suite (with and without the plugin) go through this wrapper: they differ only by the
# two plugin lines. The broker is exec'd, so the test signals (SIGHUP, SIGTERM) and reads it directly; its
# log (stderr) also goes to broker.log in its directory.
set -euo pipefail

broker=${TWIN_SUITE_MOSQUITTO:-/usr/sbin/mosquitto}
root=${TWIN_SUITE_TMP:?run through run-mosquitto-suite.sh}
mkdir -p "$root"
dir=$(mktemp -d "$root/broker.XXXXXX")
conf=$dir/mosquitto.conf

args=()
test_conf=
ports=()
while [ $# -gt 0 ]; do
	case $1 in
	-c | --config-file)
		test_conf=$2
		shift 2
		;;
	-p | --port)
		ports+=("$2")
		shift 2
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done

plugin_lines() {
	if [ -n "${TWIN_SUITE_PLUGIN:-}" ]; then
		echo "plugin $TWIN_SUITE_PLUGIN"
		echo "plugin_opt_db_path $dir/db"
	fi
}
first=${TWIN_SUITE_PLUGIN_FIRST:-0}
if [ -n "$test_conf" ] && grep -Eq '^[[:space:]]*per_listener_settings[[:space:]]+true' "$test_conf"; then
	# the plugin belongs to the listener it follows: last, as a plugin line ahead of every listener line
	# would make Mosquitto open a default listener of its own (1883) for it
	: >"$dir/per_listener_settings" # counted in the summary
	first=0
fi
{
	echo "# written by broker-wrapper.sh in $PWD for: ${test_conf:-"-p ${ports[*]:-}"}"
	if [ "$first" = 1 ]; then
		plugin_lines
	fi
	if [ -n "$test_conf" ]; then
		cat "$test_conf"
		echo
	else
		for p in "${ports[@]:-1883}"; do
			echo "listener $p 127.0.0.1"
			if [ "${TWIN_SUITE_IPV6:-1}" = 1 ]; then
				echo "listener $p ::1"
			fi
		done
		echo "allow_anonymous true"
	fi
	if [ "$(id -u)" = 0 ]; then
		echo "user root"
	fi
	if [ "$first" != 1 ]; then
		plugin_lines
	fi
} >"$conf"

if [ -n "$test_conf" ]; then # -p with -c: Mosquitto uses the ports only if the config has no listener
	for p in "${ports[@]}"; do
		args+=(-p "$p")
	done
fi
exec 2> >(tee "$dir/broker.log" >&2)
exec "$broker" "${args[@]}" -c "$conf"
