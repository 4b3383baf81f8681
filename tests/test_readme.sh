#!/bin/bash
# The README's two opening commands, as a newcomer runs them: clone the
# committed tree (or, from a release tarball, copy it), run command 1 (the
# demo) exactly as written, and check that command 2 is the script CI runs.
# Root only (the demo needs it).
set -eu
. "$(dirname "$0")/lib.sh"

subid_require_root
subid_require_tools git unshare pamtester getsubids newuidmap python3

readme=$top_srcdir/README
mapfile -t cmds < <(sed -n '1,/^What it is/p' "$readme" | sed -n 's/^    \(\.\/.*\)$/\1/p' | head -n 2)
check_eq "README opens with two commands" 2 "${#cmds[@]}"
check_eq "command 1 is the demo" "./tests/demo.sh" "${cmds[0]:-}"
check_eq "command 2 runs the tests" "./tests/ci.sh" "${cmds[1]:-}"
check_match ".ci/run runs command 2" "^exec ${cmds[1]:-none}\$" "$(cat "$top_srcdir/.ci/run")"

W=$(mktemp -d "${TMPDIR:-/tmp}/subid-readme.XXXXXX")
trap 'rm -rf "$W"' EXIT
if [ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$top_srcdir" && pwd -P)" ]; then
	[ -z "$(git -C "$top_srcdir" status --porcelain --untracked-files=no)" ] ||
		diag "note: uncommitted changes are not part of the clone"
	check "fresh clone" git clone -q "$top_srcdir" "$W/clone"
else
	# a release tarball (make distcheck): its unpacked tree, copied writable,
	# is what a newcomer would have
	check "fresh copy of the release tree" cp -R "$top_srcdir" "$W/clone"
	chmod -R u+w "$W/clone"
fi
out=$W/demo.out
rc=0
# as a newcomer runs it: none of the test harness's (or a sanitizer pass's) environment
(cd "$W/clone" && env -u top_builddir -u top_srcdir -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS \
	-u SUBID_SANITIZE -u SUBID_SAN_DIR ${cmds[0]}) >"$out" 2>&1 || rc=$?
check_eq "command 1 exits 0 in the fresh clone" 0 "$rc"
[ "$rc" -eq 0 ] || diag_file "$out"
check_match "it logs the grant" "granted user=alice uid=4242 kind=subuid start=2147483648 count=65536" "$(cat "$out")"
check_match "getsubids prints the range" "^0: alice 2147483648 65536$" "$(cat "$out")"
check_match "newuidmap's map is in place" "^ +0 +2147483648 +65536$" "$(cat "$out")"
check_match "the demo's own checks pass" "^demo: [0-9]+ passed, 0 failed$" "$(cat "$out")"
finish
