#!/bin/bash
# Run the unit tests (and the allocation driver) under valgrind memcheck:
# any error or definite/indirect leak fails.  Prints "valgrind: N passed, N failed".
set -uo pipefail
cd "${top_builddir:-$(dirname "$0")/..}"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not installed" >&2; exit 1; }
pass=0 fail=0
for t in tests/unit/test_range tests/unit/test_config tests/unit/test_files tests/unit/test_store \
	tests/unit/test_mirror tests/unit/test_index tests/unit/test_user tests/unit/test_ldap tests/unit/test_core; do
	[ -x "$t" ] || { echo "valgrind.sh: $t not built (make check first)" >&2; exit 1; }
	log=$t.valgrind.log
	if valgrind -q --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --track-fds=no "$t" >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "ok - valgrind $t"
	else
		fail=$((fail + 1))
		echo "not ok - valgrind $t"
		grep -E '==[0-9]+==|FAILED' "$log" | head -n 40 | sed 's/^/#   | /'
	fi
done
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
