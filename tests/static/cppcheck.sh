#!/usr/bin/env bash
# cppcheck over src/, plugin/, tools/ and bench/ (tests/run-all.sh, stage "static analysis"); exits 1 on
# any finding. False positives are marked inline (`// cppcheck-suppress <id>` with the reason beside it)
# or, for code that cannot carry the comment, listed with their reasons in tests/static/cppcheck.supp.
set -euo pipefail
cd "$(dirname "$0")/../.."
# uthash's macros and cJSON's iteration macros must be expanded for the flow checks to follow the code
# (without uthash.h, every HASH_ITER body reads as using an uninitialised variable); the rest of the
# system headers stay out, as cppcheck advises (its own library files describe libc and POSIX).
inc=$(mktemp -d)
trap 'rm -rf "$inc"' EXIT
for h in uthash.h lmdb.h cjson; do
	ln -s "/usr/include/$h" "$inc/$h"
done
cppcheck --error-exitcode=1 --quiet --std=c11 --library=posix --inline-suppr \
	--enable=warning,style,performance,portability \
	--suppressions-list=tests/static/cppcheck.supp \
	--template='{file}:{line}: {severity}: {message} [{id}]' \
	-I src -I plugin -I bench -I "$inc" -D_POSIX_C_SOURCE=200809L -DHASH_NONFATAL_OOM=1 \
	src plugin tools bench
echo "cppcheck: clean"
