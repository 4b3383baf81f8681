#!/bin/bash
# The whole test suite, as CI runs it: install the packages, then
#   1. a clang -Werror build (for clang's warnings),
#   2. a gcc -Werror build and "make check",
#   3. the unit tests under valgrind,
#   4. an ASan+UBSan build and "make check" again (modules preloaded with
#      libasan in the hosts, including setuid newuidmap inside the test
#      namespaces; any sanitizer report fails),
#   5. the Debian packages: build, lintian, install on this host, a login
#      and newuidmap against the installed files, purge (tests/test_deb.sh),
#   6. make distcheck (the tarball builds and passes make check as root, and
#      installs and uninstalls inside its own prefix),
# and print one summary line.  Run as root so the end-to-end tests (PAM stack,
# shadow's loader, setuid newuidmap) run too: as root a skipped test fails.
set -euo pipefail
cd "$(dirname "$0")/.."

tests/deps.sh test

total_pass=0 total_fail=0 total_skip=0 rc=0

# count_suite LOG: add a test-suite.log's counts to the totals
count_suite() {
	local p f s
	read -r p f s < <(awk '/^# (PASS|FAIL|SKIP|XFAIL|XPASS|ERROR):/ { v[$2] = $3 }
		END { print v["PASS:"] + 0, v["FAIL:"] + v["ERROR:"] + v["XPASS:"] + 0, v["SKIP:"] + 0 }' "$1")
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) total_skip=$((total_skip + s))
	echo "ci.sh: $2: $p passed, $f failed, $s skipped"
	if [ "$(id -u)" -eq 0 ] && [ "$s" -gt 0 ]; then
		echo "ci.sh: $s test(s) skipped while running as root: that is a failure here" >&2
		rc=1
	fi
}

# run_check NAME [make args]: make check, keep its log as test-suite-NAME.log
run_check() {
	local name=$1
	shift
	make -j1 check VERBOSE=1 "$@" || rc=1
	if [ -f test-suite.log ]; then
		cp test-suite.log "test-suite-$name.log"
		count_suite test-suite.log "$name"
	else
		echo "ci.sh: $name: no test-suite.log" >&2
		rc=1
	fi
}

echo "== 1. clang -Werror build"
if command -v clang >/dev/null; then
	tests/build.sh --enable-werror CC=clang >/dev/null
	echo "ci.sh: clang -Werror build ok"
else
	echo "ci.sh: clang missing" >&2
	rc=1
fi

echo "== 2. gcc -Werror build, make check"
tests/build.sh --enable-werror
run_check gcc

echo "== 3. unit tests under valgrind"
if tests/valgrind.sh; then
	total_pass=$((total_pass + 1))
else
	total_fail=$((total_fail + 1)) rc=1
fi

echo "== 4. ASan+UBSan build, make check"
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
tests/build.sh --enable-werror "CFLAGS=-g -O1 -fno-omit-frame-pointer $san" "LDFLAGS=$san"
san_dir=$(mktemp -d /tmp/subid-san.XXXXXX)
SUBID_SANITIZE=1 SUBID_SAN_DIR=$san_dir SUBID_FUZZ_SMOKE_SECONDS=2 run_check sanitizers
if [ -n "$(find "$san_dir" -type f)" ]; then
	echo "ci.sh: sanitizer reports:" >&2
	find "$san_dir" -type f -exec head -n 40 {} + >&2
	rc=1
fi
rm -rf "$san_dir"

echo "== 5. Debian packages: build, lintian, install, end to end, purge"
if tests/test_deb.sh; then
	total_pass=$((total_pass + 1))
else
	total_fail=$((total_fail + 1)) rc=1
fi

echo "== 6. make distcheck (the release tarball builds, passes make check as root, installs and"
echo "   uninstalls inside its own prefix)"
tests/build.sh >/dev/null
if make distcheck >distcheck.log 2>&1; then
	total_pass=$((total_pass + 1))
	echo "ci.sh: make distcheck ok"
else
	total_fail=$((total_fail + 1)) rc=1
	grep -E '^(FAIL|ERROR|SKIP):' distcheck.log >&2 || true
	tail -n 60 distcheck.log >&2
fi
rm -f subid-*.tar.gz

# leave a normal build behind
tests/build.sh >/dev/null

echo "make check (gcc, valgrind, sanitizers), deb, distcheck: $total_pass passed, $total_fail failed, $total_skip skipped"
exit "$rc"
