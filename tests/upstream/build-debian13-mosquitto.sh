#!/usr/bin/env bash
# build-debian13-mosquitto.sh [DIR] - builds the broker of Debian 13 (trixie), the newest Mosquitto 2.0.x
# that Debian publishes as a source package, on Debian 12, so that the end-to-end suite can run against it:
#
#   MOSQUITTO=$(tests/upstream/build-debian13-mosquitto.sh) python3 -m pytest tests/e2e
#
# Everything it says goes to stderr; stdout gets the broker's path alone. DIR (default build-m2021, which
# git ignores; a relative DIR is taken from the repository's top) keeps the build, so a second run prints
# the path at once. Delete DIR to build again, e.g. once trixie has a newer 2.0.x.
#
# The source package comes through apt with a private configuration (its own sources list, lists and
# cache directories, deleted afterwards), so the machine's apt sources and caches stay as they were: apt
# checks the files against the Sources index, which the Release file signed by Debian's archive keys
# (debian-archive-keyring) vouches for. The highest version in trixie, trixie-updates and
# trixie-security is taken, with Debian's patches applied.
#
# Built: the broker (src/mosquitto) and, beside it, its dynamic-security plugin, which
# tests/e2e/test_setups.py loads from there. Configured as debian/rules does (system cJSON and uthash,
# websockets through libwebsockets, TLS, getaddrinfo_a, the hardening build flags) but without DLT,
# systemd notification and TCP wrappers, which no test here uses. Debian 12's libraries stand in for
# Debian 13's (libwebsockets 4.1, OpenSSL 3.0, cJSON 1.7.15); that libwebsockets lacks
# LWS_WITH_EXTERNAL_POLL, so the build warns that websockets performance "will be unusable", as it does
# for Debian 12's own 2.0.11. What is missing is installed first, with sudo unless run as root (as .ci/run
# does).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mkdir -p "${1:-build-m2021}" && cd "${1:-build-m2021}" && pwd)
broker=$out/build/src/mosquitto

say() {
	echo "build-debian13-mosquitto: $*" >&2
}

if [ ! -f "$out/build/done" ]; then
	deps=(cmake gcc make pkg-config dpkg-dev libssl-dev libwebsockets-dev libcjson-dev uthash-dev)
	missing=()
	for p in "${deps[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		sudo=""
		if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
		say "installing ${missing[*]}"
		{ $sudo apt-get install -y --no-install-recommends "${missing[@]}" ||
			{ $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${missing[@]}"; }; } >&2
	fi

	apt_dir=$(mktemp -d "${TMPDIR:-/tmp}/debian13-apt.XXXXXX")
	trap 'rm -rf "$apt_dir"' EXIT
	mkdir -p "$apt_dir/parts" "$apt_dir/lists" "$apt_dir/cache"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	cat >"$apt_dir/sources.list" <<-EOF
		deb-src [signed-by=$keyring] http://deb.debian.org/debian trixie main
		deb-src [signed-by=$keyring] http://deb.debian.org/debian trixie-updates main
		deb-src [signed-by=$keyring] http://deb.debian.org/debian-security trixie-security main
	EOF
	apt=(apt-get -q -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/parts"
		-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
	# as root apt downloads as the user _apt, who cannot write into these private directories; it would
	# fall back to root anyway, with a warning
	if [ "$(id -u)" -eq 0 ]; then apt+=(-o APT::Sandbox::User=root); fi
	say "fetching the index of Debian 13's source packages"
	"${apt[@]}" update >&2
	rm -rf "$out/source" "$out/build"
	mkdir -p "$out/source"
	(cd "$out/source" && "${apt[@]}" source mosquitto) >&2
	src=$(find "$out/source" -mindepth 1 -maxdepth 1 -type d -name 'mosquitto-*')
	say "source package: $(basename "$out"/source/mosquitto_*.dsc .dsc)"

	# debian/rules' flags: dh_auto_configure hands CPPFLAGS to CMake inside CFLAGS
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all
	log=$out/build.log
	say "building the broker and its dynamic-security plugin (log: $log)"
	if ! {
		CFLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
			LDFLAGS=$(dpkg-buildflags --get LDFLAGS) \
			cmake -S "$src" -B "$out/build" -DCMAKE_BUILD_TYPE=None -DWITH_BUNDLED_DEPS=OFF -DWITH_ADNS=ON \
			-DWITH_WEBSOCKETS=ON -DWITH_TLS=ON -DDOCUMENTATION=OFF -DWITH_CLIENTS=OFF -DWITH_APPS=OFF \
			-DWITH_LIB_CPP=OFF &&
			cmake --build "$out/build" -j"$(nproc)" --target mosquitto mosquitto_dynamic_security
	} >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		say "the build failed, see $log"
		exit 1
	fi
	touch "$out/build/done"
fi

version=$("$broker" -h | sed -n 's/^mosquitto version //p' || true) # -h exits 3
say "mosquitto $version: $broker"
echo "$broker"
