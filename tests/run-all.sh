#!/usr/bin/env bash
# The whole test suite, as CI runs it: build with -Werror, static analysis (cppcheck, clang-tidy, beside
# the next stages), unit tests (ctest), the schema and README example checks, end-to-end tests against a
# real mosquitto with the plugin (Debian 12's 2.0.11, then Debian 13's, built from its source package beside
# the stages before), the Debian package built and put through apt; then the same build, unit
# and end-to-end tests again under AddressSanitizer + UBSan (the plugin preloaded into the stock broker);
# last, the unit tests and a subset of the end-to-end tests under valgrind (the whole broker runs under
# it there).
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3 # Debian's interpreter: it can import python3-paho-mqtt and python3-jsonschema

# "== what (elapsed m:ss)": where the suite's time goes
stage() {
	printf '== %s (%d:%02d)\n' "$1" $((SECONDS / 60)) $((SECONDS % 60))
}

build() {
	local dir=$1
	shift
	cmake -S . -B "$dir" -DTWIN_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
}

stage "build"
build build
build build-cluster -DTWIN_CLUSTER=ON -DTWIN_BUILD_TESTS=OFF -DTWIN_BUILD_BENCH=OFF # tests/e2e/test_cluster_*
build build-kafka -DTWIN_KAFKA=ON -DTWIN_BUILD_TESTS=OFF -DTWIN_BUILD_BENCH=OFF # tests/e2e/test_kafka_events.py
stage "static analysis (cppcheck, clang-tidy) started in the background, at low priority"
# CPU-bound, while the end-to-end tests mostly wait on the network: run beside them, results below
static_log=$(mktemp)
(nice -n 19 tests/static/cppcheck.sh && nice -n 19 "$python" tests/static/clang_tidy.py build) \
	>"$static_log" 2>&1 &
static_pid=$!
stage "Debian 13's Mosquitto: fetched and built in the background, at low priority (build-m2021 keeps it)"
m2021_log=$(mktemp)
m2021_path=$(mktemp)
nice -n 19 tests/upstream/build-debian13-mosquitto.sh >"$m2021_path" 2>"$m2021_log" &
m2021_pid=$!
stage "unit tests"
ctest --test-dir build -L 'unit|fuzz-replay' --output-on-failure
stage "schemas and README examples"
"$python" schemas/check_examples.py
stage "end-to-end tests"
# --durations: where this stage's time goes, for keeping the suite short
TWIN_PLUGIN="$PWD/build/mosquitto_twin.so" TWIN_CLUSTER_PLUGIN="$PWD/build-cluster/mosquitto_twin.so" \
	TWIN_KAFKA_PLUGIN="$PWD/build-kafka/mosquitto_twin.so" "$python" -m pytest tests/e2e -q --durations=12
stage "end-to-end tests against Debian 13's Mosquitto"
# The modules where the broker matters (its callbacks, ACL checks, targeted publishes, properties,
# listeners, websockets, set-ups), with the broker Debian 13 ships (2.0.21 today): 2 to 3 minutes. Left
# out: the cluster tests (test_cluster_*.py: cluster/local.sh starts its shards with Debian 12's broker
# whatever MOSQUITTO says), the tests of a client or a page (the dashboard, Node-RED, client examples),
# and what runs the same whatever the broker (the store on disk and its restarts,
# history, models, search bounds, metrics, memory, schemas, twinctl, upgrades, the README demo).
m2021_modules=(access config deploy_files desired errors events fronts ingest limits requests
	reserved_writes sdk_fronts search search_scope setups stats telemetry websockets)
m2021_ok=true
wait "$m2021_pid" || m2021_ok=false
cat "$m2021_log"
m2021=$(cat "$m2021_path")
rm -f "$m2021_log" "$m2021_path"
$m2021_ok
m2021_tests=()
for m in "${m2021_modules[@]}"; do m2021_tests+=("tests/e2e/test_$m.py"); done
MOSQUITTO="$m2021" TWIN_PLUGIN="$PWD/build/mosquitto_twin.so" "$python" -m pytest -q "${m2021_tests[@]}"
stage "Debian package: build and lintian, then install, enable, upgrade, remove and purge it"
# tools/build-deb.sh without the unit tests (they ran above); the test needs root (skipped otherwise)
deb=$(DEB_BUILD_OPTIONS=nocheck tools/build-deb.sh)
TWIN_DEB="$deb" TWIN_PLUGIN="$PWD/build/mosquitto_twin.so" "$python" -m pytest -q \
	tests/e2e/test_package.py::test_install_enable_upgrade_remove_purge
stage "benchmark smoke run (proves each scenario runs; checks no figure against its goal)"
build/bench/twin_bench --smoke
build/bench/twin_model_bench 20000
stage "static analysis results"
static_ok=true
wait "$static_pid" || static_ok=false
cat "$static_log"
rm -f "$static_log"
$static_ok

stage "AddressSanitizer + UBSan build"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DTWIN_SANITIZE=address,undefined
stage "unit tests (sanitized)"
ctest --test-dir build-asan -L 'unit|fuzz-replay' --output-on-failure
stage "end-to-end tests (sanitized plugin in the stock broker)"
# Left out (about 1.5 minutes): the cluster tests, whose shards cluster/local.sh starts with the cluster
# build (not sanitized); the browser test of the dashboard (its broker side, search and websockets
# answers, is in test_search*.py and test_websockets.py), Node-RED's flow and the client examples.
not_again=(--ignore-glob='tests/e2e/test_cluster_*.py' --ignore=tests/e2e/test_dashboard.py
	--ignore=tests/e2e/test_node_red.py --ignore=tests/e2e/test_client_examples.py)
TWIN_PLUGIN="$PWD/build-asan/mosquitto_twin.so" \
	TWIN_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
	"$python" -m pytest tests/e2e -q "${not_again[@]}"

# Errors (invalid accesses, uninitialised values, bad frees) and definite or indirect leaks fail; one
# that is Mosquitto's or a library's own goes in tests/valgrind.supp, with its reason.
valgrind=(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
	--suppressions="$PWD/tests/valgrind.supp" --num-callers=30)
stage "valgrind: unit tests and fuzz corpus replays"
# ctest runs every test under valgrind (CMake's test launcher for built executables)
build build-vg -DTWIN_BUILD_BENCH=OFF \
	-DCMAKE_CROSSCOMPILING_EMULATOR="$(IFS=';' && echo "${valgrind[*]};--error-exitcode=1;--quiet")"
ctest --test-dir build-vg -L 'unit|fuzz-replay' --output-on-failure -j"$(nproc)"
stage "valgrind: end-to-end tests (the broker under valgrind, its report checked at every stop)"
# The modules that drive the plugin (tests/e2e whole would take twice the four minutes this stage is
# kept within; a new module that drives the plugin belongs in this list), less these tests: the ones
# built on kill -9 (a killed run leaves no report to check; restarts by SIGTERM stay, and so do the
# map- and disk-full tests, which also restart after kill -9), a 20000-request flood and a scan of
# thousands of twins that both compare latencies, a get timed against a telemetry backlog, telemetry
# that must reach disk within a fixed sleep, the xfail that waits out its timeouts (Mosquitto 2.0.11's
# max_queued_messages 0 bug), and all but three of the invalid option values, which take one refusal
# path. Left out whole: the kill -9 soak, and the modules about what runs outside the plugin (the
# README's command-line demo, client examples, Node-RED, twinctl, the dashboard), and the search bounds
# (test_search_bounds.py: thousands of twins, to fill the search queue and pass a deadline).
TWIN_PLUGIN="$PWD/build-vg/mosquitto_twin.so" TWIN_BROKER_WRAPPER="$(printf '%q ' "${valgrind[@]}")" \
	TWIN_TIMEOUT=30 "$python" -m pytest -q \
	tests/e2e/test_telemetry.py tests/e2e/test_requests.py tests/e2e/test_errors.py \
	tests/e2e/test_desired.py tests/e2e/test_events.py tests/e2e/test_history.py \
	tests/e2e/test_search.py tests/e2e/test_search_scope.py tests/e2e/test_stats.py \
	tests/e2e/test_config.py \
	tests/e2e/test_durability.py tests/e2e/test_limits.py tests/e2e/test_disk_full.py \
	tests/e2e/test_metrics.py tests/e2e/test_ingest.py tests/e2e/test_access.py \
	tests/e2e/test_schemas.py tests/e2e/test_fronts.py tests/e2e/test_models.py tests/e2e/test_websockets.py \
	tests/e2e/test_upgrade.py \
	--deselect=tests/e2e/test_durability.py::test_answered_updates_survive_kill9_while_telemetry_flows \
	--deselect=tests/e2e/test_durability.py::test_answered_write_is_committed_at_once_despite_long_interval \
	--deselect=tests/e2e/test_durability.py::test_connected_false_after_restart \
	--deselect=tests/e2e/test_durability.py::test_version_never_reused_across_restart \
	--deselect=tests/e2e/test_durability.py::test_telemetry_reaches_disk_within_commit_interval \
	--deselect=tests/e2e/test_limits.py::test_a_request_flood_from_a_slow_consumer_does_not_starve_another_client \
	--deselect=tests/e2e/test_search.py::test_full_scan_does_not_delay_a_get \
	--deselect=tests/e2e/test_telemetry.py::test_read_does_not_wait_behind_a_telemetry_backlog \
	--deselect=tests/e2e/test_config.py::test_requests_work_with_max_queued_messages_0 \
	-k "not test_invalid_value_refused or commit_interval_ms-abc or telemetry_topic or metrics_file"
stage "done"
