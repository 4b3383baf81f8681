#!/bin/bash
# make bench: what subid costs next to shadow's files backend, with 1k, 10k
# and 100k owners.  In a private mount namespace (overlay /etc, tmpfs $W;
# nothing on the host changes) it generates, per size, a writer store and
# the equivalent /etc/subuid + /etc/subgid holding the same N owners
# (written directly: sqlite3 for the store, no logins; the store in the
# layout of the read index: $d/store/private/subid.db, 0600 in a 0700
# directory, and its index $d/store/ranges.idx published by "subidctl
# reindex"), then measures side by side:
#
#   getsubids USER    through the plugin (the index of N owners, the host's
#                     files), through shadow's files backend (N-line files,
#                     no subid line in nsswitch.conf) and the floor (files
#                     backend, one-line files): callgrind instructions of
#                     one run, median wall clock, peak RSS.  USER is the
#                     last owner of the files and the highest range.
#   later login       pamtester open_session+close_session of USER, whom
#                     the index lists (pam_subid reads the index only), and
#                     the same session with pam_permit only.
#   first login       pamtester open_session+close_session of fresh users
#                     with pam_subid (allocates in the store holding N
#                     owners, publishes the index) and with pam_permit
#                     only; usermod --add-subuids/--add-subgids on the
#                     N-line files.
#
# Targets (callgrind instructions; printed as met / not met, never a
# failure):
#   1. getsubids, plugin / files backend with one-line files   <= 1.3
#   2. later login / pam_permit-only session                   <= 1.5
#   3. first login at the largest size / at the smallest       <= 1.5
#   4. getsubids, plugin / files backend with N-line files,
#      at the largest size                                     <= 0.1
# For a target not met, the functions that make the difference (callgrind
# self and inclusive Ir, one run against the other) follow the table.
# SUBID_BENCH_CGDIR=DIR keeps every callgrind output there.
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
	mkdir -p "$d/store/private"
	chmod 0755 "$d" "$d/store"
	chmod 0700 "$d/store/private"
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
	} | sqlite3 -batch "$d/store/private/subid.db" >/dev/null
	chmod 0600 "$d/store/private/subid.db"
	rm -f "$d/store/private/subid.db-wal" "$d/store/private/subid.db-shm"
}

# publish N: the read index of size N's store (use_size first), by subidctl reindex
publish() {
	local n=$1 d=$W/gen/$1 out
	out=$("$SUBIDCTL" -c "$SUBID_CONF_PATH" reindex 2>"$W/reindex.err") ||
		hard_error "subidctl reindex (size $n) failed: $out $(cat "$W/reindex.err")"
	[ "$out" = "reindex: $n owners published to $d/store/ranges.idx" ] ||
		hard_error "subidctl reindex (size $n) said '$out'"
	[ "$(stat -c '%a %u' "$d/store/ranges.idx")" = "644 0" ] || hard_error "the index of size $n is not 0644 root's"
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
db_path = $d/store/private/subid.db
range_min = $RMIN
range_max = $RMAX
range_count = $RCOUNT
files = yes
EOF
}

# ---- measuring -----------------------------------------------------------------------
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ir KEY CMD...: total instructions (Ir) of one run of CMD under callgrind
# (its output file is kept as $W/cg/KEY and $W/cg.last)
mkdir -p "$W/cg"
ir() {
	local key=$1
	shift
	rm -f "$W/cg.last"
	valgrind --tool=callgrind --trace-children=no --callgrind-out-file="$W/cg.last" "$@" >/dev/null 2>"$W/cg.err" ||
		hard_error "callgrind $*: $(tail -n 5 "$W/cg.err")"
	cp "$W/cg.last" "$W/cg/$key"
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

# cg_functions KEY yes|no: "IR FUNCTION" per function of $W/cg/KEY
# (inclusive or self cost), the object file dropped
cg_functions() {
	callgrind_annotate --inclusive="$2" --threshold=100 "$W/cg/$1" 2>/dev/null |
		awk '/^ *[0-9,]+ \(/ && !/PROGRAM TOTALS/ {
			v = $1; gsub(",", "", v); sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +/, ""); sub(/ \[[^]]*\]$/, ""); print v, $0 }'
}

# cg_diff KEY_A KEY_B LABEL: the functions that cost A more than B (self and
# inclusive Ir, the 12 largest differences each), to stdout
cg_diff() {
	local inc
	for inc in no yes; do
		echo "  $3: $([ "$inc" = no ] && echo self || echo inclusive) Ir, $1 minus $2 (top 12)"
		{
			cg_functions "$1" "$inc" | sed 's/^/A /'
			cg_functions "$2" "$inc" | sed 's/^/B /'
		} | awk '{ w = $1; v = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); d[$0] += (w == "A" ? v : -v); a[$0] += (w == "A" ? v : 0) }
			END { for (f in d) printf "%d %d %s\n", d[f], a[f], f }' |
			sort -k1,1nr | head -n 12 |
			awk '{ d = $1; a = $2; $1 = ""; $2 = ""; sub(/^ +/, ""); printf "    %+14d  (A %12d)  %s\n", d, a, $0 }'
	done
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

	# getsubids through the plugin: the index of n owners, host's own files
	use_size "$n" empty
	progress "$n owners: publishing the index (subidctl reindex)"
	publish "$n"
	enable_plugin
	expect_range "$n"
	progress "$n owners: getsubids via plugin"
	R[$n,ir_plugin]=$(ir "plugin.$n" getsubids "$q")
	[ "$n" != "${SIZES##* }" ] || top_functions "getsubids via plugin, $n owners"
	R[$n,ms_plugin]=$(wall_ms getsubids "$q")
	R[$n,rss_plugin]=$(rss_kb getsubids "$q")

	# through shadow's files backend: n-line files
	disable_plugin
	use_size "$n" full
	expect_range "$n"
	progress "$n owners: getsubids via files"
	R[$n,ir_files]=$(ir "files.$n" getsubids "$q")
	[ "$n" != "${SIZES##* }" ] || top_functions "getsubids via files, $n owners"
	R[$n,ms_files]=$(wall_ms getsubids "$q")
	R[$n,rss_files]=$(rss_kb getsubids "$q")

	# the floor: files backend, one-line files
	use_size "$n" one
	expect_range "$n"
	progress "$n owners: getsubids floor"
	R[$n,ir_floor]=$(ir "floor.$n" getsubids "$q")
	R[$n,ms_floor]=$(wall_ms getsubids "$q")
	R[$n,rss_floor]=$(rss_kb getsubids "$q")

	# logins against the store holding n owners (host's own files)
	use_size "$n" empty
	idx=$W/gen/$n/store/ranges.idx
	# a later login: the index lists q, so pam_subid only reads it (no
	# write: the index is not replaced)
	progress "$n owners: later login"
	ino=$(stat -c %i "$idx")
	R[$n,ir_later]=$(ir "later.$n" pamtester subid-bench "$q" open_session close_session)
	[ "$n" != "${SIZES##* }" ] || top_functions "later login (pam_subid), $n owners"
	[ "$(stat -c %i "$idx")" = "$ino" ] || hard_error "a later login of $q (size $n) published the index: it wrote"
	R[$n,ir_permit]=$(ir "permit.$n" pamtester permit-bench "$q" open_session close_session)
	progress "$n owners: first logins"
	# the first allocation after generation rebuilds the free-span index
	# (the index is published already: no republish in these logins)
	R[$n,ms_rebuild]=$(timed_ms pamtester subid-bench "bp${n}_$((LOGIN_RUNS + 2))" open_session close_session)
	[ "$(stat -c %i "$idx")" != "$ino" ] || hard_error "a first login (size $n) did not publish the index"
	R[$n,ir_login]=$(ir "login.$n" pamtester subid-bench "bp${n}_$((LOGIN_RUNS + 1))" open_session close_session)
	[ "$n" != "${SIZES##* }" ] || top_functions "first login (pam_subid), $n owners"
	# interleaved, so all see the same machine load
	: >"$W/login.ms"
	: >"$W/later.ms"
	: >"$W/permit.ms"
	for i in $(seq "$LOGIN_RUNS"); do
		timed_ms pamtester subid-bench "bp${n}_$i" open_session close_session >>"$W/login.ms"
		timed_ms pamtester subid-bench "$q" open_session close_session >>"$W/later.ms"
		timed_ms pamtester permit-bench "$q" open_session close_session >>"$W/permit.ms"
	done
	R[$n,ms_login]=$(median <"$W/login.ms")
	R[$n,ms_later]=$(median <"$W/later.ms")
	R[$n,ms_permit]=$(median <"$W/permit.ms")
	R[$n,idx_bytes]=$(stat -c %s "$idx")
	got=$(db_query "SELECT count(DISTINCT uid) FROM ranges;" "$W/gen/$n/store/private/subid.db")
	[ "$got" = $((n + LOGIN_RUNS + 2)) ] ||
		hard_error "store of size $n holds $got owners after the logins, expected $((n + LOGIN_RUNS + 2))"
	got=$("$SUBIDCTL" -c "$SUBID_CONF_PATH" list 2>/dev/null | grep -c ' subuid ' || true)
	[ "$got" = $((n + LOGIN_RUNS + 2)) ] ||
		hard_error "the index of size $n lists $got subuid ranges after the logins, expected $((n + LOGIN_RUNS + 2))"

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
SMALL=${SIZES%% *}
LARGE=${SIZES##* }
for n in $SIZES; do
	R[$n,ir_ratio]=$(ratio "${R[$n,ir_plugin]}" "${R[$n,ir_files]}")
	R[$n,ir_ratio_floor]=$(ratio "${R[$n,ir_plugin]}" "${R[$n,ir_floor]}")
	R[$n,ir_ratio_later]=$(ratio "${R[$n,ir_later]}" "${R[$n,ir_permit]}")
	R[$n,ir_ratio_login]=$(ratio "${R[$n,ir_login]}" "${R[$SMALL,ir_login]}")
	R[$n,ms_alloc]=$(diffms "${R[$n,ms_login]}" "${R[$n,ms_permit]}")
	R[$n,ms_ratio_login]=$(ratio "${R[$n,ms_login]}" "${R[$SMALL,ms_login]}")
	R[$n,ir_alloc]=$(awk -v a="${R[$n,ir_login]}" -v b="${R[$n,ir_permit]}" 'BEGIN { printf "%.0f", a - b }')
done

if [ -n "$HAVE_HYPERFINE" ]; then how="hyperfine -N, median of $GET_RUNS"; else how="median of $GET_RUNS"; fi
echo "subid bench: range_count = $RCOUNT, pool [$RMIN, $RMAX), store (private/subid.db, its index ranges.idx published"
echo "by subidctl reindex) and /etc/subuid+subgid with the same N owners; getsubids queries the last owner of the files"
echo "(highest range of the store); plugin runs keep the host's own files.  Ir: callgrind instructions of one run."
printf '%-46s' "owners (N)"
for n in $SIZES; do printf ' %12s' "$(k "$n")"; done
printf '\n'
row "getsubids Ir, plugin (callgrind)" ir_plugin
row "getsubids Ir, files backend" ir_files
row "getsubids Ir, floor (one-line files)" ir_floor
row "getsubids Ir, plugin / files    [target 4]" ir_ratio
row "getsubids Ir, plugin / floor    [target 1]" ir_ratio_floor
row "getsubids ms, plugin ($how)" ms_plugin
row "getsubids ms, files backend" ms_files
row "getsubids ms, floor" ms_floor
row "getsubids peak RSS KiB, plugin (median of $RSS_RUNS)" rss_plugin
row "getsubids peak RSS KiB, files backend" rss_files
row "getsubids peak RSS KiB, floor" rss_floor
row "later login ms, pam_subid (median of $LOGIN_RUNS)" ms_later
row "first login ms, pam_subid (median of $LOGIN_RUNS)" ms_login
row "session ms, pam_permit only (median of $LOGIN_RUNS)" ms_permit
row "first login ms, pam_subid minus pam_permit" ms_alloc
row "later login Ir, pam_subid (owner in the index)" ir_later
row "session Ir, pam_permit only" ir_permit
row "later login Ir / pam_permit    [target 2]" ir_ratio_later
row "first login Ir, pam_subid (callgrind)" ir_login
row "first login Ir, pam_subid minus pam_permit" ir_alloc
row "first login Ir / at $(k "$SMALL")    [target 3]" ir_ratio_login
row "first login ms / at $(k "$SMALL") (wall clock)" ms_ratio_login
row "index bytes (each write publishes all of it)" idx_bytes
row "first allocation after generation ms (rebuild)" ms_rebuild
row "usermod --add-subuids/gids ms (median of $LOGIN_RUNS)" ms_usermod

# ---- the targets ----------------------------------------------------------------------------
# worst VALUE...: the largest of the ratios
worst() { printf '%s\n' "$@" | sort -g | tail -n 1; }
UNMET=
# target N LABEL VALUE LIMIT WHERE
target() {
	local verdict
	if awk -v v="$3" -v l="$4" 'BEGIN { exit !(v != "-" && v <= l) }'; then
		verdict="met"
	else
		verdict="NOT MET"
		UNMET="$UNMET $1"
	fi
	printf 'target %s: %-58s %7s <= %-4s %s (%s)\n' "$1" "$2" "$3" "$4" "$verdict" "$5"
}
t1=()
t2=()
for n in $SIZES; do
	t1+=("${R[$n,ir_ratio_floor]}")
	t2+=("${R[$n,ir_ratio_later]}")
done
echo
target 1 "getsubids Ir, plugin / files backend with one-line files" "$(worst "${t1[@]}")" 1.3 "worst of $SIZES owners"
target 2 "later login Ir / pam_permit-only session" "$(worst "${t2[@]}")" 1.5 "worst of $SIZES owners"
target 3 "first login Ir at $(k "$LARGE") owners / at $(k "$SMALL")" "${R[$LARGE,ir_ratio_login]}" 1.5 "$LARGE vs $SMALL owners"
target 4 "getsubids Ir, plugin / files backend with $(k "$LARGE")-line files" "${R[$LARGE,ir_ratio]}" 0.1 "$LARGE owners"
# callgrind counts user-space instructions only: the kernel's share of a
# first login (writing, syncing and mapping the new index) shows in wall clock
if ! awk -v v="${R[$LARGE,ms_ratio_login]}" 'BEGIN { exit !(v != "-" && v <= 1.5) }'; then
	echo "note: target 3 in wall clock is ${R[$LARGE,ms_ratio_login]} (first login ${R[$LARGE,ms_login]} ms at $(k "$LARGE")" \
		"vs ${R[$SMALL,ms_login]} ms at $(k "$SMALL")): every write publishes the whole index" \
		"(${R[$LARGE,idx_bytes]} bytes at $(k "$LARGE")), kernel time callgrind does not count"
fi

# where the instructions go, for a target not met (at the size that decides it)
worst_size() { # KEY: the size with the largest R[n,KEY]
	local n best="" bv=-1
	for n in $SIZES; do
		if awk -v a="${R[$n,$1]}" -v b="$bv" 'BEGIN { exit !(a > b) }'; then best=$n; bv=${R[$n,$1]}; fi
	done
	echo "$best"
}
for t in $UNMET; do
	echo
	echo "profile for target $t (callgrind, one run each):"
	case "$t" in
	1) n=$(worst_size ir_ratio_floor); cg_diff "plugin.$n" "floor.$n" "getsubids, plugin vs one-line files, $(k "$n") owners" ;;
	2) n=$(worst_size ir_ratio_later); cg_diff "later.$n" "permit.$n" "later login vs pam_permit session, $(k "$n") owners" ;;
	3) cg_diff "login.$LARGE" "login.$SMALL" "first login, $(k "$LARGE") vs $(k "$SMALL") owners" ;;
	4) cg_diff "plugin.$LARGE" "files.$LARGE" "getsubids, plugin vs $(k "$LARGE")-line files" ;;
	esac
done
if [ -n "${SUBID_BENCH_CGDIR:-}" ]; then
	mkdir -p "$SUBID_BENCH_CGDIR" && cp "$W"/cg/* "$SUBID_BENCH_CGDIR"/ &&
		progress "callgrind outputs kept in $SUBID_BENCH_CGDIR"
fi
echo

mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "machine: nproc $(nproc), ${cpu:-unknown CPU}, RAM $mem, kernel $(uname -r)"
echo "total time: $(($(date +%s) - SUBID_BENCH_T0)) s"
