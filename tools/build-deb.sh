#!/usr/bin/env bash
# build-deb.sh [OUT_DIR] - builds the Debian package (debian/) from this working tree with
# `dpkg-buildpackage -us -uc -b`, in a copy under OUT_DIR (default build/deb) so that nothing is written
# beside the repository, then runs lintian on it. Everything it says goes to stderr; stdout gets the
# .deb's path alone, e.g. deb=$(tools/build-deb.sh).
#
# The copy is what git would commit (tracked and untracked files, not the ignored ones such as build/).
# DEB_BUILD_OPTIONS passes through (nocheck: the unit tests are neither built nor run). Needs debhelper,
# lintian and the package's Build-Depends, which the README's command installs:
#   apt-get install debhelper lintian && apt-get build-dep ./
# (no fakeroot: the package builds without root, Rules-Requires-Root: no). npm fetches the dashboard's
# MQTT.js bundle once into build/npm, which the tests share.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$(mkdir -p "${1:-build/deb}" && cd "${1:-build/deb}" && pwd)
version=$(dpkg-parsechangelog -S Version)
src="$out/mosquitto-twin-$version"

rm -rf "$src" "$out"/mosquitto-twin*_"$version"_* "$out"/mosquitto-twin_"$version".*
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$src"

export TWIN_NPM_DIR=${TWIN_NPM_DIR:-$repo/build/npm}
(cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc)") >&2
rm -rf "$src"

# errors and warnings fail (debian/mosquitto-twin.lintian-overrides says why each override is right);
# pedantic and info tags are shown, explained
root=()
if [ "$(id -u)" -eq 0 ]; then root=(--allow-root); fi
lintian "${root[@]}" --info --display-info --pedantic --fail-on error,warning \
	"$out"/mosquitto-twin_"$version"_*.changes >&2
echo "lintian: clean (errors and warnings; overrides in debian/mosquitto-twin.lintian-overrides)" >&2
ls "$out"/mosquitto-twin_"$version"_*.deb
