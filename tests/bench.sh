#!/bin/bash
# make bench: what subid costs next to shadow's files backend, with 1k, 10k
# and 100k owners.  In a private mount namespace (overlay /etc, tmpfs $W;
# nothing on the host changes) it generates, per size, a store and the
# equivalent /etc/subuid + /etc/subgid holding the same N owners (written
# directly: sqlite3 for the store, no logins), then measures side by side:
#
#   getsubids USER    through the plugin (store with N owners, empty files),
#                     through shadow's files backend (N-line files, no subid
#                     line in nsswitch.conf) and the floor (files backend,
#                     one-line files): callgrind instructions of one run,
#                     median wall clock, peak RSS.  USER is the last owner
#                     of the files and the highest range of the store.
#   first login       pamtester open_session+close_session of fresh users
#                     with pam_subid (allocates in the store holding N
#                     owners) and with pam_permit only; usermod
#                     --add-subuids/--add-subgids on the N-line files.
#
# Figures, not assertions: progress on stderr, one table on stdout, then the
# machine and the total time.  Not part of make check.
set -eu
export LC_ALL=C
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

: "${SUBID_BENCH_T0:=$(date +%s)}"
export SUBID_BENCH_T0

load_paths
subid_require_root
if [ -z "${SUBID_TEST_IN_NS:-}" ]; then
	"$top_srcdir/tests/deps.sh" bench >&2 || hard_error "tests/deps.sh bench failed"
fi
subid_require_tools unshare mount pamtester sqlite3 python3 getsubids usermod valgrind
[ -x /usr/bin/time ] || skip_or_error "GNU time (/usr/bin/time) missing"
subid_require_build
subid_enter_ns "$@"

SIZES=${SUBID_BENCH_SIZES:-"1000 10000 100000"}
RMIN=2147483648
RMAX=4294836224
RCOUNT=4096
GET_RUNS=50   # getsubids wall-clock runs per variant
LOGIN_RUNS=20 # first logins / usermod runs per size
RSS_RUNS=5
M=$PAM_MODULE
progress() { printf 'bench: %s\n' "$*" >&2; }

HAVE_HYPERFINE=
if command -v hyperfine >/dev/null 2>&1; then HAVE_HYPERFINE=1; fi

# ---- fixtures ----------------------------------------------------------------------
# /etc/passwd per size = the host's lines + the bench's special users (near the
# top, so getpwnam costs the same everywhere) + N-1 bulk owners.  Special users:
#   bqN       the queried owner: last line of the files, highest store range
#   bpN_i     fresh users for pam_subid first logins (LOGIN_RUNS + 2)
#   bmN_i     fresh users for usermod (LOGIN_RUNS)
cp /etc/passwd "$W/passwd.base"
mkdir -p "$W/gen"
chmod 0755 "$W/gen"
cp /etc/subuid "$W/gen/subuid.host" 2>/dev/null || : >"$W/gen/subuid.host"
cp /etc/subgid "$W/gen/subgid.host" 2>/dev/null || : >"$W/gen/subgid.host"

gen_size() {
	local n=$1 base=$((1000000 + $1 * 10)) d=$W/gen/$1 now
	now=$(date +%s)
	mkdir -p "$d/store"
	chmod 0755 "$d" "$d/store"
	# passwd: specials first, then the bulk owners
	awk -v n="$n" -v base="$base" -v runs="$LOGIN_RUNS" 'BEGIN {
		printf "bq%d:x:%d:100:subid bench:/nonexistent:/bin/sh\n", n, base
		for (i = 1; i <= runs + 2; i++) printf "bp%d_%d:x:%d:100:subid bench:/nonexistent:/bin/sh\n", n, i, base + i
		for (i = 1; i <= runs; i++) printf "bm%d_%d:x:%d:100:subid bench:/nonexistent:/bin/sh\n", n, i, base + 100 + i
		for (i = 1; i < n; i++) printf "bu%d_%d:x:%d:100:subid bench:/nonexistent:/bin/sh\n", n, i, base + 1000 + i
	}' >"$d/passwd.users"
	cat "$W/passwd.base" "$d/passwd.users" >"$d/passwd"
	# owners k = 0 .. n-2 are bu.._k+1, owner n-1 is bq..; range k at RMIN + k*RCOUNT
	awk -v n="$n" -v rmin="$RMIN" -v c="$RCOUNT" 'BEGIN {
		for (k = 0; k < n - 1; k++) printf "bu%d_%d:%.0f:%d\n", n, k + 1, rmin + k * c, c
		printf "bq%d:%.0f:%d\n", n, rmin + (n - 1) * c, c
	}' >"$d/subuid"
	cp "$d/subuid" "$d/subgid"
	tail -n 1 "$d/subuid" >"$d/subuid.one"
	cp "$d/subuid.one" "$d/subgid.one"
	# the store: same owners and ranges; free empty and no pool_min/pool_max,
	# so the first allocation rebuilds the free-span index
	{
		echo "PRAGMA journal_mode=DELETE;"
		echo "BEGIN;"
		echo "CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
		echo "CREATE TABLE ranges(uid INTEGER NOT NULL CHECK (uid >= 0 AND uid < 4294967295),"
		echo "  kind INTEGER NOT NULL CHECK (kind IN (1, 2)), start INTEGER NOT NULL CHECK (start >= 0),"
		echo "  count INTEGER NOT NULL CHECK (count > 0 AND start + count <= 4294967295),"
		echo "  name TEXT, granted INTEGER NOT NULL, PRIMARY KEY (uid, kind));"
		echo "CREATE UNIQUE INDEX ranges_by_start ON ranges(kind, start);"
		echo "CREATE TABLE free(start INTEGER PRIMARY KEY NOT NULL, end INTEGER NOT NULL CHECK (end > start));"
		echo "INSERT INTO meta(key, value) VALUES ('schema', 1);"
		awk -v n="$n" -v base="$base" -v rmin="$RMIN" -v c="$RCOUNT" -v now="$now" 'BEGIN {
			for (k = 0; k < n; k++) {
				if (k < n - 1) { name = sprintf("bu%d_%d", n, k + 1); uid = base + 1000 + k + 1 }
				else { name = sprintf("bq%d", n); uid = base }
				for (kind = 1; kind <= 2; kind++)
					printf "INSERT INTO ranges VALUES (%d, %d, %.0f, %d, '\''%s'\'', %d);\n", uid, kind, rmin + k * c, c, name, now
			}
		}'
		echo "COMMIT;"
	} | sqlite3 -batch "$d/store/subid.db" >/dev/null
	chmod 0644 "$d/store/subid.db"
	rm -f "$d/store/subid.db-wal" "$d/store/subid.db-shm"
}

# use_size N FILES: /etc/passwd and the config for size N; FILES is the
# content of /etc/subuid+subgid: full (N lines), one (the queried owner's
# line) or empty (the host's own lines).
use_size() {
	local d=$W/gen/$1
	cat "$d/passwd" >/etc/passwd
	case "$2" in
	full) cat "$d/subuid" >/etc/subuid; cat "$d/subgid" >/etc/subgid ;;
	one) cat "$d/subuid.one" >/etc/subuid; cat "$d/subgid.one" >/etc/subgid ;;
	empty) cat "$W/gen/subuid.host" >/etc/subuid; cat "$W/gen/subgid.host" >/etc/subgid ;;
	esac
	write_conf <<EOF
# subid bench
store = local
db_path = $d/store/subid.db
range_min = $RMIN
range_max = $RMAX
range_count = $RCOUNT
files = yes
EOF
}

# ---- measuring -----------------------------------------------------------------------
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ir CMD...: total instructions (Ir) of one run of CMD under callgrind
# (its output file is kept as $W/cg.last)
ir() {
	rm -f "$W/cg.last"
	valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$W/cg.last" "$@" >/dev/null 2>"$W/cg.err" ||
		hard_error "callgrind $*: $(tail -n 5 "$W/cg.err")"
	awk '/^(summary|totals):/ { print $2; exit }' "$W/cg.last"
}

# top_functions LABEL: the 8 costliest functions (self Ir) of $W/cg.last, to stderr
top_functions() {
	{
		echo "bench: callgrind top functions (self Ir), $1:"
		callgrind_annotate --inclusive=no "$W/cg.last" 2>/dev/null |
			awk '/^ *[0-9,]+ \(/ && !/PROGRAM TOTALS/ { print; if (++n == 8) exit }' | sed 's/^ */bench:   /'
	} >&2
}

# wall_ms CMD...: median wall clock of GET_RUNS runs of CMD, in ms
wall_ms() {
	if [ -n "$HAVE_HYPERFINE" ]; then
		hyperfine -N --style none --warmup 3 --runs "$GET_RUNS" --export-json "$W/hf.json" -- "$(printf '%q ' "$@")" >/dev/null 2>"$W/hf.err" ||
			hard_error "hyperfine $*: $(tail -n 5 "$W/hf.err")"
		python3 -c 'import json, sys; print("%.2f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$W/hf.json"
	else
		local i t0
		for i in 1 2 3; do "$@" >/dev/null 2>&1 || true; done
		for i in $(seq "$GET_RUNS"); do
			t0=$EPOCHREALTIME
			"$@" >/dev/null 2>&1 || true
			echo "$EPOCHREALTIME $t0"
		done | awk '{ printf "%.2f\n", ($1 - $2) * 1000 }' | median
	fi
}

# rss_kb CMD...: median peak RSS (KiB) of RSS_RUNS runs
rss_kb() {
	local i
	for i in $(seq "$RSS_RUNS"); do
		/usr/bin/time -f %M -o "$W/time.out" "$@" >/dev/null 2>&1 || true
		tail -n 1 "$W/time.out"
	done | median
}

# timed_ms CMD...: wall clock of one run in ms (fails when CMD fails)
timed_ms() {
	local t0 t1
	t0=$EPOCHREALTIME
	"$@" >"$W/timed.out" 2>&1 || hard_error "$* failed: $(head -n 5 "$W/timed.out")"
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) * 1000 }'
}

# getsubids prints "0: bqN START COUNT"
expect_range() {
	local n=$1 out
	out=$(getsubids "bq$n" 2>&1) || hard_error "getsubids bq$n failed: $out"
	[ "$out" = "0: bq$n $((RMIN + (n - 1) * RCOUNT)) $RCOUNT" ] ||
		hard_error "getsubids bq$n printed '$out', expected its range"
}

pam_service subid-bench "optional $M" "required pam_permit.so"
pam_service permit-bench "required pam_permit.so"
enable_plugin
disable_plugin

declare -A R
for n in $SIZES; do
	progress "$n owners: generating store, files and users"
	t=$EPOCHREALTIME
	gen_size "$n"
	progress "$n owners: generated in $(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
	q=bq$n

	# getsubids through the plugin: store with n owners, host's own files
	use_size "$n" empty
	enable_plugin
	expect_range "$n"
	progress "$n owners: getsubids via plugin"
	R[$n,ir_plugin]=$(ir getsubids "$q")
	[ "$n" != "${SIZES##* }" ] || top_functions "getsubids via plugin, $n owners"
	R[$n,ms_plugin]=$(wall_ms getsubids "$q")
	R[$n,rss_plugin]=$(rss_kb getsubids "$q")

	# through shadow's files backend: n-line files
	disable_plugin
	use_size "$n" full
	expect_range "$n"
	progress "$n owners: getsubids via files"
	R[$n,ir_files]=$(ir getsubids "$q")
	[ "$n" != "${SIZES##* }" ] || top_functions "getsubids via files, $n owners"
	R[$n,ms_files]=$(wall_ms getsubids "$q")
	R[$n,rss_files]=$(rss_kb getsubids "$q")

	# the floor: files backend, one-line files
	use_size "$n" one
	expect_range "$n"
	progress "$n owners: getsubids floor"
	R[$n,ir_floor]=$(ir getsubids "$q")
	R[$n,ms_floor]=$(wall_ms getsubids "$q")
	R[$n,rss_floor]=$(rss_kb getsubids "$q")

	# first logins against the store holding n owners (host's own files)
	use_size "$n" empty
	progress "$n owners: first logins"
	# the first allocation after generation rebuilds the free-span index
	R[$n,ms_rebuild]=$(timed_ms pamtester subid-bench "bp${n}_$((LOGIN_RUNS + 2))" open_session close_session)
	R[$n,ir_login]=$(ir pamtester subid-bench "bp${n}_$((LOGIN_RUNS + 1))" open_session close_session)
	[ "$n" != "${SIZES##* }" ] || top_functions "first login (pam_subid), $n owners"
	R[$n,ir_permit]=$(ir pamtester permit-bench "$q" open_session close_session)
	# interleaved, so both see the same machine load
	: >"$W/login.ms"
	: >"$W/permit.ms"
	for i in $(seq "$LOGIN_RUNS"); do
		timed_ms pamtester subid-bench "bp${n}_$i" open_session close_session >>"$W/login.ms"
		timed_ms pamtester permit-bench "$q" open_session close_session >>"$W/permit.ms"
	done
	R[$n,ms_login]=$(median <"$W/login.ms")
	R[$n,ms_permit]=$(median <"$W/permit.ms")
	got=$(db_query "SELECT count(DISTINCT uid) FROM ranges;" "$W/gen/$n/store/subid.db")
	[ "$got" = $((n + LOGIN_RUNS + 2)) ] ||
		hard_error "store of size $n holds $got owners after the logins, expected $((n + LOGIN_RUNS + 2))"

	# usermod on the n-line files (the plugin off, or shadow writes nothing)
	use_size "$n" full
	progress "$n owners: usermod --add-subuids/--add-subgids"
	for i in $(seq "$LOGIN_RUNS"); do
		a=$((RMIN + (n + i) * RCOUNT))
		b=$((a + RCOUNT - 1))
		timed_ms usermod --add-subuids "$a-$b" --add-subgids "$a-$b" "bm${n}_$i"
	done >"$W/usermod.ms"
	R[$n,ms_usermod]=$(median <"$W/usermod.ms")
	got=$(wc -l </etc/subuid)
	[ "$got" = $((n + LOGIN_RUNS)) ] || hard_error "usermod: /etc/subuid has $got lines, expected $((n + LOGIN_RUNS))"
	rm -f "$W/gen/$n/passwd" "$W/gen/$n/passwd.users"
done

# ---- the table ---------------------------------------------------------------------------
k() { case "$1" in 1000) echo 1k ;; 10000) echo 10k ;; 100000) echo 100k ;; *) echo "$1" ;; esac; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
diffms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
row() {
	local label=$1 key=$2 n
	printf '%-46s' "$label"
	for n in $SIZES; do printf ' %12s' "${R[$n,$key]}"; done
	printf '\n'
}
for n in $SIZES; do
	R[$n,ir_ratio]=$(ratio "${R[$n,ir_plugin]}" "${R[$n,ir_files]}")
	R[$n,ms_alloc]=$(diffms "${R[$n,ms_login]}" "${R[$n,ms_permit]}")
	R[$n,ir_alloc]=$(awk -v a="${R[$n,ir_login]}" -v b="${R[$n,ir_permit]}" 'BEGIN { printf "%.0f", a - b }')
done

if [ -n "$HAVE_HYPERFINE" ]; then how="hyperfine -N, median of $GET_RUNS"; else how="median of $GET_RUNS"; fi
echo "subid bench: range_count = $RCOUNT, pool [$RMIN, $RMAX), store and /etc/subuid+subgid with the same N owners;"
echo "getsubids queries the last owner of the files (highest range of the store); plugin runs keep the host's own files."
printf '%-46s' "owners (N)"
for n in $SIZES; do printf ' %12s' "$(k "$n")"; done
printf '\n'
row "getsubids Ir, plugin (callgrind)" ir_plugin
row "getsubids Ir, files backend" ir_files
row "getsubids Ir, floor (one-line files)" ir_floor
row "getsubids Ir, plugin / files" ir_ratio
row "getsubids ms, plugin ($how)" ms_plugin
row "getsubids ms, files backend" ms_files
row "getsubids ms, floor" ms_floor
row "getsubids peak RSS KiB, plugin (median of $RSS_RUNS)" rss_plugin
row "getsubids peak RSS KiB, files backend" rss_files
row "getsubids peak RSS KiB, floor" rss_floor
row "first login ms, pam_subid (median of $LOGIN_RUNS)" ms_login
row "session ms, pam_permit only (median of $LOGIN_RUNS)" ms_permit
row "first login ms, pam_subid minus pam_permit" ms_alloc
row "first login Ir, pam_subid (callgrind)" ir_login
row "session Ir, pam_permit only" ir_permit
row "first login Ir, pam_subid minus pam_permit" ir_alloc
row "first allocation after generation ms (rebuild)" ms_rebuild
row "usermod --add-subuids/gids ms (median of $LOGIN_RUNS)" ms_usermod

mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "machine: nproc $(nproc), ${cpu:-unknown CPU}, RAM $mem, kernel $(uname -r)"
echo "total time: $(($(date +%s) - SUBID_BENCH_T0)) s"
