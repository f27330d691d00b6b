#!/usr/bin/env bash
# The whole test suite, as CI runs it: build with -Werror, static analysis (cppcheck, clang-tidy), unit
# tests (ctest), the schema and README example checks, end-to-end tests against a real mosquitto with the
# plugin; then the same build, unit and end-to-end tests again under AddressSanitizer + UBSan (the plugin
# preloaded into the stock broker).
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3 # Debian's interpreter: it can import python3-paho-mqtt and python3-jsonschema

build() {
	local dir=$1
	shift
	cmake -S . -B "$dir" -DTWIN_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$(nproc)"
}

echo "== build"
build build
echo "== static analysis (cppcheck, clang-tidy)"
tests/static/cppcheck.sh
"$python" tests/static/clang_tidy.py build
echo "== unit tests"
ctest --test-dir build -L 'unit|fuzz-replay' --output-on-failure
echo "== schemas and README examples"
"$python" schemas/check_examples.py
echo "== end-to-end tests"
TWIN_PLUGIN="$PWD/build/mosquitto_twin.so" "$python" -m pytest tests/e2e -q
echo "== benchmark smoke run (seconds, no thresholds)"
build/bench/twin_bench --smoke

echo "== AddressSanitizer + UBSan build"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DTWIN_SANITIZE=address,undefined
echo "== unit tests (sanitized)"
ctest --test-dir build-asan -L 'unit|fuzz-replay' --output-on-failure
echo "== end-to-end tests (sanitized plugin in the stock broker)"
TWIN_PLUGIN="$PWD/build-asan/mosquitto_twin.so" \
	TWIN_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
	"$python" -m pytest tests/e2e -q
