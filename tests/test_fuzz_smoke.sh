#!/bin/bash
# A short run of each libFuzzer target (make fuzz runs them longer).
set -eu
. "$(dirname "$0")/lib.sh"
subid_require_tools clang pkg-config
rc=0
# the fuzzers carry clang's own ASan runtime: no gcc libasan preload
out=$(env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS \
	"$top_srcdir/tests/fuzz/run.sh" "${SUBID_FUZZ_SMOKE_SECONDS:-5}" 2>&1) || rc=$?
[ "$rc" -ne 77 ] || skip_or_error "clang missing"
printf '%s\n' "$out" | grep '^fuzz_' || true
check_eq "every fuzz target ran without a crash" 0 "$rc"
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | tail -n 40 | sed 's/^/#   | /'
for t in config subuid plugin index; do
	check_match "fuzz_$t executed inputs" "^fuzz_$t: [1-9][0-9]* executions" "$out"
done
finish
