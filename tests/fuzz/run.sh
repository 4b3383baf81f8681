#!/bin/bash
# Build the libFuzzer targets with clang (ASan + UBSan) and run each for
# SECONDS (default 60), starting from the seed corpus in git.  Prints one
# line per target: executions and crashes.  Exit 1 when a target crashed.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      (targets: config subuid plugin index)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${top_builddir:-$src}
secs=${1:-60}
shift || true
targets=${*:-config subuid plugin index}
command -v clang >/dev/null || { echo "run.sh: clang is needed for libFuzzer" >&2; exit 77; }
[ -f "$build/config.h" ] || { echo "run.sh: run configure first" >&2; exit 99; }

out=$build/tests/fuzz/out
mkdir -p "$out"
fail=0
for t in $targets; do
	bin=$out/fuzz_$t
	# shellcheck disable=SC2046
	clang -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-I"$build" -I"$src/common" -DSUBID_CONF_PATH='"/nonexistent/subid.conf"' \
		-DSUBID_DB_PATH='"/nonexistent/private/subid.db"' -o "$bin" "$here/fuzz_$t.c" "$src"/common/*.c \
		$(pkg-config --cflags --libs sqlite3)
	mkdir -p "$out/corpus-$t" "$out/artifacts-$t"
	log=$out/fuzz_$t.log
	rc=0
	(cd "$out/artifacts-$t" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		"$out/corpus-$t" "$here/corpus/$t") >"$log" 2>&1 || rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	crashes=$(find "$out/artifacts-$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \) | wc -l)
	echo "fuzz_$t: ${runs:-0} executions in ${secs}s, $crashes crashes (exit $rc)"
	if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
		fail=1
		tail -n 30 "$log"
	fi
done
exit $fail
