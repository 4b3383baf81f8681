#!/bin/bash
# Hostile input, table-driven: user names, configurations, writer stores, read
# indexes and /etc/subuid contents that a careless or malicious world hands
# to pam_subid and the libsubid plugin.  Every case calls pam_sm_open_session
# directly (exact return code, without and with "strict"), then asserts what
# the syslog says, what the store holds, what the index holds and what the
# plugin answers (getsubids, libsubid, has_range inside the setuid
# newuidmap).  After every case: no crash, no hang, the baseline user
# keeper's stored ranges are unchanged (unless the case destroys the store on
# purpose), and has_range refuses keeper's range whenever the configuration or
# the index is unusable.  The plugin reads only the published index: a damaged
# writer store leaves it serving keeper's published ranges (and fails the
# writers); a damaged index makes it fail closed until a writer republishes it.
#
# SUBID_HOSTILE_ONLY=ERE runs only the cases whose name matches.

# Setup and post functions are called through the table (SC2317), U_* and
# ERE_* are read through its @VAR indirection (SC2034).
# shellcheck disable=SC2317,SC2034
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare mount umount getsubids newuidmap setpriv ldconfig python3 sqlite3 \
	timeout install mkfifo truncate dd
subid_require_build
PROBE=$top_builddir/tests/pam_probe
[ -x "$PROBE" ] || hard_error "$PROBE not built: run make check"
subid_enter_ns "$@"

# An empty configuration means the compiled-in db_path: keep that inside the
# namespace too (make distcheck's localstatedir, inside its prefix, may not
# exist yet)
mkdir -p "$(dirname "$(dirname "$(dirname "$SUBID_DB_PATH")")")"
_overlay "$(dirname "$(dirname "$(dirname "$SUBID_DB_PATH")")")"

CONF=$SUBID_CONF_PATH
STATE=$W/state
DB=$STATE/private/subid.db # the writer store (root's alone)
IDX=$STATE/ranges.idx      # the read index: index_path's default for this db_path
GOOD=$W/good
RMIN=2147483648 # the default pool
RMAX=4294836224
RCOUNT=65536
T=30 # seconds after which a command counts as hung
SERVICE=subid-hostile
# PAM_SUCCESS 0, PAM_USER_UNKNOWN 10, PAM_SESSION_ERR 14, PAM_IGNORE 25

add_user keeper 3001
add_user fresh 3002
add_user edge1 3003
add_user edge3 3005
add_user lowuser 500
add_user belowmin 3099
add_user atmin 3100
add_user 4242 4343 # a user literally named "4242"...
add_user other4242 4242 # ...and another one whose uid is 4242
add_user maxuid 4294967294
add_group nosubid 3200 grpuser
add_user grpuser 3011
add_user dockremap 999 65534 # system account with /etc/subuid entries
pam_service "$SERVICE" "optional $PAM_MODULE"
mkdir -p "$GOOD" "$W/ro" "$W/full"
INV=$top_srcdir/tests/invariants.py

GOOD_SUBID="dockremap:100000:65536"
printf '%s\n' "$GOOD_SUBID" >/etc/subuid
printf '%s\n' "$GOOD_SUBID" >/etc/subgid
chmod 0644 /etc/subuid /etc/subgid
write_conf <<EOF
db_path = $DB
EOF
cp -p "$CONF" "$GOOD/subid.conf"
enable_plugin

# The interpreter itself, not a version-manager shim (those cost a second per start).
PY=$(python3 -c 'import sys; print(sys.executable)')

# ---- helpers (few processes: this runs some 60 cases) -----------------------------------------

# tcap CMD...: run CMD under `timeout $T`; C_RC, C_OUT, C_ERR like capture.
tcap() {
	C_RC=0
	timeout "$T" "$@" >"$W/c.out" 2>"$W/c.err" || C_RC=$?
	C_OUT='' C_ERR=''
	IFS= read -r -d '' C_OUT <"$W/c.out" || true
	IFS= read -r -d '' C_ERR <"$W/c.err" || true
	while [[ $C_OUT == *$'\n' ]]; do C_OUT=${C_OUT%$'\n'}; done
}
# exited_ok DESC: the last tcap ended by itself (no timeout, no signal).
exited_ok() {
	if [ "$C_RC" -lt 124 ]; then
		ok "$1: exited normally (status $C_RC)"
	elif [ "$C_RC" -eq 124 ]; then
		not_ok "$1: hung (killed after ${T}s)"
	else
		not_ok "$1: crashed or was killed (status $C_RC)" "$C_ERR"
	fi
}

# qv VAR SQL [DB]: VAR = result of a read-only query ("" when the database
# does not exist, ERR when it cannot be read).
qv() {
	local _qv_db=${3:-$CASE_DB} _qv_r=
	if [ -e "$_qv_db" ]; then
		if sqlite3 -readonly -batch -noheader -separator ' ' -cmd '.timeout 5000' "$_qv_db" "$2" \
			>"$W/q.out" 2>/dev/null; then
			IFS= read -r -d '' _qv_r <"$W/q.out" || true
			_qv_r=${_qv_r%$'\n'}
		else
			_qv_r=ERR
		fi
	fi
	printf -v "$1" '%s' "$_qv_r"
}
r='' a='' b='' n='' # set by qv
# sum_of FILE: its sha256, or "missing"
sum_of() { if [ -f "$1" ]; then sha256sum <"$1"; else echo missing; fi; }
KEEPER_SQL="SELECT uid, kind, start, count, name FROM ranges WHERE uid = 3001 ORDER BY kind;"
range_sql() { echo "SELECT start, count FROM ranges WHERE uid = $1 AND kind = ${2:-1};"; }

# probe DESC USER [ARG...]: pam_sm_open_session of the module on a real
# pam_start handle; its return code in PROBE_RC, the fd/stdout/stderr
# hygiene in PROBE_HYG ("0 0 0" is clean).
PROBE_RC='' PROBE_HYG=''
probe() {
	local desc=$1 user=$2 k v fds='?' so='?' se='?'
	shift 2
	: >"$W/probe.out"
	tcap "$PROBE" --direct "$PAM_MODULE" "$SERVICE" "$user" "$@" 3>"$W/probe.out"
	exited_ok "$desc: pam_probe"
	PROBE_RC=
	while IFS='=' read -r k v; do
		case "$k" in
		open_session) PROBE_RC=$v ;;
		fds_leaked) fds=$v ;;
		stdout_bytes) so=$v ;;
		stderr_bytes) se=$v ;;
		esac
	done <"$W/probe.out"
	PROBE_HYG="$fds $so $se"
	if [ "$C_RC" -ne 0 ]; then diag "pam_probe: $C_ERR"; fi
}
# pregrant USER: a setup step; USER must get ranges.
pregrant() {
	probe "[$CASE] setup: $1 logs in" "$1"
	check_eq "[$CASE] setup: $1 granted (PAM_SUCCESS)" 0 "$PROBE_RC"
}

# plugin_has OWNER START COUNT: shadow_subid_has_range of the plugin itself,
# for any owner string (newuidmap only ever passes the caller's name): prints
# "STATUS RESULT".  owner_query OWNER START COUNT: first libsubid's answer
# for the owner's uid ranges ("N START+COUNT..."), then plugin_has's line.
cat >"$W/owner_query.py" <<'PYEOF'
import ctypes, os, sys
class Range(ctypes.Structure):
    _fields_ = [("start", ctypes.c_ulong), ("count", ctypes.c_ulong)]
mode, plugin, owner = sys.argv[1], sys.argv[2], os.fsencode(sys.argv[3])
start, count = int(sys.argv[4]), int(sys.argv[5])
if mode == "both":
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [ctypes.c_void_p]
    lib = ctypes.CDLL("libsubid.so.4")
    lib.subid_init.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.subid_init.restype = ctypes.c_bool
    lib.subid_init(b"subid-test", ctypes.c_void_p.in_dll(libc, "stderr"))
    lib.subid_get_uid_ranges.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(Range))]
    lib.subid_get_uid_ranges.restype = ctypes.c_int
    p = ctypes.POINTER(Range)()
    n = lib.subid_get_uid_ranges(owner, ctypes.byref(p))
    print(" ".join([str(n)] + ["%d+%d" % (p[i].start, p[i].count) for i in range(max(n, 0))]), flush=True)
    if n > 0 and p:
        libc.free(ctypes.cast(p, ctypes.c_void_p))
f = ctypes.CDLL(plugin).shadow_subid_has_range
f.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_int, ctypes.POINTER(ctypes.c_bool)]
f.restype = ctypes.c_int
r = ctypes.c_bool(True)
st = f(owner, start, count, 1, ctypes.byref(r))
print(st, int(r.value), flush=True)
PYEOF
plugin_has() { tcap "$PY" "$W/owner_query.py" has "$PLUGIN" "$@"; }
owner_query() { tcap "$PY" "$W/owner_query.py" both "$PLUGIN" "$@"; }

# getsubids_is DESC EXPECTED OWNER [-g]: exact output; an empty EXPECTED means
# no range line at all (usage or error text is fine).
getsubids_is() {
	local desc=$1 want=$2 owner=$3
	shift 3
	tcap getsubids "$@" "$owner"
	exited_ok "$desc: getsubids"
	if [ -n "$want" ]; then
		check_eq "$desc: getsubids prints the range" "$want" "$C_OUT"
		[ "$want" = "$C_OUT" ] || diag "getsubids: $C_ERR"
	elif [[ $'\n'$C_OUT =~ $'\n'[0-9]+:\  ]]; then
		not_ok "$desc: getsubids prints no range" "output: $C_OUT"
	else
		ok "$desc: getsubids prints no range"
	fi
}

# map_check DESC UID yes|no START COUNT: newuidmap, run as UID on a fresh user
# namespace of UID's, accepts (yes) or refuses (no) the mapping "0 START COUNT".
map_check() {
	local desc=$1 uid=$2 want=$3 start=$4 count=$5 pid i=0 comm map='' m1='' m2='' m3=''
	setpriv --reuid="$uid" --regid="$uid" --init-groups unshare -U sleep "$T" >/dev/null 2>&1 &
	pid=$!
	bg_track "$pid"
	while :; do
		comm=
		read -r comm <"/proc/$pid/comm" 2>/dev/null || true
		if [ "$comm" = sleep ] && ! [ "/proc/$pid/ns/user" -ef /proc/self/ns/user ]; then break; fi
		kill -0 "$pid" 2>/dev/null || hard_error "unshare -U sleep as uid $uid died"
		i=$((i + 1))
		[ "$i" -lt 1000 ] || hard_error "unshare -U sleep as uid $uid did not start"
		sleep 0.01
	done
	tcap setpriv --reuid="$uid" --regid="$uid" --init-groups newuidmap "$pid" 0 "$start" "$count"
	exited_ok "$desc: newuidmap"
	read -r m1 m2 m3 _ <"/proc/$pid/uid_map" || true
	[ -z "$m1" ] || map="$m1 $m2 $m3"
	if [ "$want" = yes ]; then
		check_eq "$desc: has_range yes, newuidmap maps $start+$count" "0|0 $start $count" "$C_RC|$map"
		[ "$C_RC" -eq 0 ] || diag "newuidmap: $C_ERR"
	else
		check_true "$desc: has_range no, newuidmap refuses $start+$count (status $C_RC)" "$C_RC" -ne 0
		check_eq "$desc: uid_map stays empty" "" "$map"
	fi
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	BG_PIDS=${BG_PIDS/ $pid/}
}

# conf_lines LINE...: config with db_path on line 1 and LINEs from line 2 on
# (the file stays the root-owned 0644 one restore installed).
conf_lines() {
	{
		echo "db_path = $DB"
		printf '%s\n' "$@"
	} >"$CONF"
}

# garbage BYTES SEED: deterministic random bytes.
garbage() {
	"$PY" -c 'import random, sys; random.seed(int(sys.argv[2])); sys.stdout.buffer.write(random.randbytes(int(sys.argv[1])))' "$1" "$2"
}

# ---- the baseline: keeper owns ranges in a known-good store -------------------------------------

CASE=baseline
CASE_DB=$DB
CASE_IDX=$IDX
pregrant keeper
qv KEEPER_ROWS "$KEEPER_SQL"
qv KR "$(range_sql 3001)"
read -r KS KC _ <<<"$KR - - -"
[[ $KS =~ ^[0-9]+$ ]] || hard_error "keeper got no range at the baseline login"
check_eq "baseline: keeper owns the first slot of the default pool" "$RMIN $RCOUNT" "$KS $KC"
qv n "SELECT count(*) FROM ranges;"
check_eq "baseline: one subuid and one subgid range in the store" 2 "$n"
check_eq "baseline: the store is root's alone (0600 in a 0700 directory)" "0 600 0 700" \
	"$(stat -c '%u %a' "$DB") $(stat -c '%u %a' "$(dirname "$DB")")"
check_eq "baseline: the index is 0644 root's, in the directory above" "0 644" "$(stat -c '%u %a' "$IDX")"
check_eq "baseline: the index lists keeper's ranges" "3001 $KS $KC $KS $KC" \
	"$("$PY" "$INV" --dump-index "$IDX" | grep -v '^generation')"
cp -p "$DB" "$GOOD/subid.db"
cp -p "$IDX" "$GOOD/ranges.idx"
getsubids_is "baseline" "0: keeper $KS $KC" keeper
map_check "baseline" 3001 yes "$KS" "$KC"

# install_state DIR [no-store] [no-index]: the known-good layout under DIR:
# DIR (0755) with the index DIR/ranges.idx (0644), DIR/private (0700) with
# the store DIR/private/subid.db (0600); all root's.
install_state() {
	install -d -m 0755 -o 0 -g 0 "$1"
	install -d -m 0700 -o 0 -g 0 "$1/private"
	[ "${2:-}" = no-store ] || install -m 0600 -o 0 -g 0 "$GOOD/subid.db" "$1/private/subid.db"
	[ "${3:-}" = no-index ] || install -m 0644 -o 0 -g 0 "$GOOD/ranges.idx" "$1/ranges.idx"
}

# restore: the known-good config, store, index, /etc/subuid, /etc/subgid; no case mount.
CASE_MOUNTS=
restore() {
	local m
	for m in $CASE_MOUNTS; do umount "$m" 2>/dev/null || umount -l "$m"; done
	CASE_MOUNTS=
	if [ -L "$CONF" ] || ! [ -f "$CONF" ]; then rm -rf "$CONF"; fi
	install -m 0644 -o 0 -g 0 "$GOOD/subid.conf" "$CONF"
	chown 0:0 "$W"
	chmod 0755 "$W"
	rm -rf "$STATE" "$W/real.conf" "$(dirname "$(dirname "$SUBID_DB_PATH")")"
	install_state "$STATE"
	printf '%s\n' "$GOOD_SUBID" >/etc/subuid
	printf '%s\n' "$GOOD_SUBID" >/etc/subgid
	CASE_DB=$DB
	CASE_IDX=$IDX
	KEEPER_DB=
	KEEPER_IDX=
}

# before_login DESC yes|no: keeper served (or not) and the /etc/subuid entry
# served, before the case's login (setup functions that damage the index)
before_login() {
	if [ "$2" = yes ]; then
		getsubids_is "[$CASE] before the login ($1): keeper" "0: keeper $KS $KC" keeper
		map_check "[$CASE] before the login ($1): keeper" 3001 yes "$KS" "$KC"
	else
		getsubids_is "[$CASE] before the login ($1): keeper" "" keeper
		plugin_has keeper "$KS" "$KC"
		check_match "[$CASE] before the login ($1): plugin has_range(keeper) is false" "^[0-9]+ 0$" "$C_OUT"
		map_check "[$CASE] before the login ($1): keeper" 3001 no "$KS" "$KC"
	fi
}

# ---- setup functions, one per hostile world; post_<setup> runs after the generic checks ----------

s_none() { :; }

# user names
s_numeric_name() { :; }
post_s_numeric_name() {
	qv a "SELECT count(*) FROM ranges WHERE uid = 4343;"
	qv b "SELECT count(*) FROM ranges WHERE uid = 4242;"
	# a name of digits would also name uid 4242 in every file consumer: never granted
	check_eq "[$CASE] PAM user \"4242\" (uid 4343): refused, and nothing for uid 4242 either" "0 0" "$a $b"
	getsubids_is "[$CASE] owner 4343 (decimal uid of the user named 4242) owns nothing" "" 4343
	getsubids_is "[$CASE] owner other4242 (uid 4242) owns nothing" "" other4242
}
s_uid_as_name() { :; }
post_s_uid_as_name() {
	getsubids_is "[$CASE] getsubids 3001 (a decimal uid is an owner for the plugin)" "0: 3001 $KS $KC" 3001
}
s_uidmin() { conf_lines "uid_min = 3100"; }
s_skipgroup() { conf_lines "skip_groups = nosubid"; }

# pools
RMIN2=3000000000
RMAX2=$((RMIN2 + 2 * RCOUNT))
s_pool2() {
	conf_lines "range_min = $RMIN2" "range_max = $RMAX2"
	pregrant edge1
	qv r "SELECT start FROM ranges WHERE uid = 3003 AND kind = 1;"
	check_eq "[$CASE] setup: edge1 got the first slot" "$RMIN2" "$r"
}
post_s_pool2() {
	qv r "SELECT start, start + count FROM ranges WHERE uid = 3002 ORDER BY kind;"
	check_eq "[$CASE] fresh got the last slot (both kinds), ending exactly at range_max" \
		"$((RMAX2 - RCOUNT)) $RMAX2"$'\n'"$((RMAX2 - RCOUNT)) $RMAX2" "$r"
	map_check "[$CASE] fresh" 3002 yes "$((RMAX2 - RCOUNT))" "$RCOUNT"
	map_check "[$CASE] fresh, one past range_max" 3002 no "$((RMAX2 - RCOUNT))" "$((RCOUNT + 1))"
}
s_pool_full() {
	s_pool2
	pregrant edge3
}
RTOP=4294967295
s_pool_top() {
	conf_lines "range_min = $((RTOP - 2 * RCOUNT))" "range_max = $RTOP"
	pregrant edge1
}
post_s_pool_top() {
	qv r "SELECT start, start + count FROM ranges WHERE uid = 3002 AND kind = 1;"
	check_eq "[$CASE] fresh got the slot ending exactly at 4294967295" "$((RTOP - RCOUNT)) $RTOP" "$r"
	map_check "[$CASE] fresh, top slot" 3002 yes "$((RTOP - RCOUNT))" "$RCOUNT"
	map_check "[$CASE] fresh, top slot + 1 (would reach uid 4294967295)" 3002 no "$((RTOP - RCOUNT))" "$((RCOUNT + 1))"
	plugin_has fresh "$((RTOP - RCOUNT))" 18446744073709551615
	check_eq "[$CASE] plugin: has_range with start + count overflowing is false" "0 0" "$C_OUT"
}
s_reserved_all() { conf_lines "reserved = $RMIN-$((RMAX - 1))"; }

# configurations
s_conf_missing() { rm -f "$CONF"; }
s_conf_empty() {
	: >"$CONF"
	install_state "$(dirname "$(dirname "$SUBID_DB_PATH")")"
	CASE_DB=$SUBID_DB_PATH
	CASE_IDX=$(dirname "$(dirname "$SUBID_DB_PATH")")/ranges.idx
}
post_s_conf_empty() {
	qv r "$(range_sql 3002)"
	check_eq "[$CASE] fresh got the default pool's slot after keeper's" "$((RMIN + RCOUNT)) $RCOUNT" "$r"
	qv r "$KEEPER_SQL SELECT count(*) FROM ranges;" "$DB"
	check_eq "[$CASE] the test store ($DB) was not touched" "$KEEPER_ROWS"$'\n'2 "$r"
	check_eq "[$CASE] the test index ($IDX) was not touched" "$(sum_of "$GOOD/ranges.idx")" "$(sum_of "$IDX")"
}
s_conf_unknown_key() { conf_lines "frobnicate = 1"; }
s_conf_bad_number() { conf_lines "range_count = 65k"; }
s_conf_negative() { conf_lines "range_min = -5"; }
s_conf_overflow() { conf_lines "range_max = 99999999999999999999"; }
s_conf_past_ids() { conf_lines "range_max = 4294967296"; }
s_conf_count0() { conf_lines "range_count = 0"; }
s_conf_count_big() { conf_lines "range_min = $RMIN2" "range_max = $((RMIN2 + RCOUNT))" "range_count = $((RCOUNT + 1))"; }
s_conf_real_ids() { conf_lines "range_min = 1000"; }
s_conf_symlink() {
	mv "$CONF" "$W/real.conf"
	ln -s "$W/real.conf" "$CONF"
}
s_conf_o_w() { chmod 0666 "$CONF"; }
s_conf_g_w() { chmod 0664 "$CONF"; }
s_conf_user() { chown 3001:3001 "$CONF"; }
s_conf_fifo() {
	rm -f "$CONF"
	mkfifo -m 0644 "$CONF"
}
s_conf_dir() {
	rm -f "$CONF"
	mkdir -m 0755 "$CONF"
}
s_conf_nul() { printf 'db_path = %s\nrange_count = 65\x00536\n' "$DB" >"$CONF"; }
s_conf_long() {
	local a
	printf -v a '%5000s' ''
	conf_lines "skip_users = ${a// /a}"
}
s_conf_junk() { garbage 3000 7 >"$CONF"; }
s_conf_rel_db() { conf_lines "db_path = var/lib/subid/private/subid.db"; }
s_conf_rel_idx() { conf_lines "index_path = var/lib/subid/ranges.idx"; }
s_conf_dir_idx() { conf_lines "index_path = $STATE/"; }
# index_path naming the store itself: the store needs a directory of its own
s_conf_idx_is_db() { conf_lines "index_path = $DB"; }
s_conf_store() { conf_lines "store = nfs"; }
s_conf_reserved() { conf_lines "reserved = 5-3"; }

# writer stores: the plugin never reads them
s_db_missing() {
	rm -f "$DB"
	# in between: the index still lists keeper, the /etc/subuid entries are served
	before_login "store deleted" yes
	getsubids_is "[$CASE] before the login: /etc/subuid entry" "0: dockremap 100000 65536" dockremap
}
post_s_db_missing() {
	check_eq "[$CASE] store re-created root-owned 0600" "0 600" "$(stat -c '%u %a' "$DB")"
	# the new store (generation 0) is behind the index (1): no writer republishes
	# it on its own (keeper's range would go to the next owner while he may use it)
	getsubids_is "[$CASE] after: /etc/subuid entry" "0: dockremap 100000 65536" dockremap
	check "[$CASE] subidctl reindex publishes the store as it is, on the admin's word" "$SUBIDCTL" reindex
	check "[$CASE] ... and then fresh's login succeeds" pamtester "$SERVICE" fresh open_session close_session
	qv n "SELECT count(*) FROM ranges WHERE uid = 3002;"
	check_eq "[$CASE] ... and is granted" 2 "$n"
	check "[$CASE] the index lists exactly the new store's owners" "$PY" "$INV" --any-pool --db "$DB" --index "$IDX"
}
s_db_truncated() { truncate -s 1000 "$DB"; }
s_db_corrupt() { # every page but the first
	local size
	size=$(stat -c %s "$DB")
	garbage "$((size - 4096))" 11 | nosan dd of="$DB" bs=4096 seek=1 conv=notrunc status=none
}
s_db_header() { garbage 100 13 | nosan dd of="$DB" bs=100 seek=0 conv=notrunc status=none; }
s_db_o_w() { chmod 0666 "$DB"; }
s_db_dir_o_w() { chmod 0777 "$(dirname "$DB")"; }
s_db_dir_open() { chmod 0755 "$(dirname "$DB")"; } # the old layout's mode: a writer makes it 0700 again
post_s_db_dir_open() { check_eq "[$CASE] the store's directory is 0700 again" "0 700" "$(stat -c '%u %a' "$(dirname "$DB")")"; }
s_db_user() { chown 3001:3001 "$DB"; }
s_db_dir_user() { chown 3001:3001 "$(dirname "$DB")"; }
s_db_symlink() {
	mv "$DB" "$STATE/private/real.db"
	ln -s real.db "$DB"
	KEEPER_DB=$STATE/private/real.db
}
s_db_is_dir() {
	rm -f "$DB"
	mkdir -m 0700 "$DB"
}
# a store of the layout before the index: 0644 beside where the index goes, no index yet
s_db_old_layout() {
	rm -rf "$STATE/private" "$IDX"
	install -m 0644 -o 0 -g 0 "$GOOD/subid.db" "$STATE/subid.db"
	before_login "old layout, no index yet" no
}
post_s_db_old_layout() {
	check_eq "[$CASE] the old store is gone from beside the index" missing "$(sum_of "$STATE/subid.db")"
	check_eq "[$CASE] the store is 0600 in a 0700 directory" "0 600 0 700" \
		"$(stat -c '%u %a' "$DB") $(stat -c '%u %a' "$(dirname "$DB")")"
	check_eq "[$CASE] the index is 0644 root's" "0 644" "$(stat -c '%u %a' "$IDX")"
}
s_db_ro() {
	mount -t tmpfs -o size=1m,mode=0755 subid-ro "$W/ro"
	CASE_MOUNTS="$W/ro"
	install_state "$W/ro"
	conf_lines "db_path = $W/ro/private/subid.db"
	mount -o remount,ro "$W/ro"
	CASE_DB=$W/ro/private/subid.db
	CASE_IDX=$W/ro/ranges.idx
}
# full_fs [STORE]: a 64 KiB tmpfs on $W/full (holding a copy of the good
# store and index when asked), filled up.
full_fs() {
	mount -t tmpfs -o size=64k,mode=0755 subid-full "$W/full"
	CASE_MOUNTS="$W/full"
	if [ -n "${1:-}" ]; then install_state "$W/full"; fi
	nosan dd if=/dev/zero of="$W/full/filler" bs=4096 status=none 2>/dev/null || true
	conf_lines "db_path = $W/full/private/subid.db"
	CASE_DB=$W/full/private/subid.db
	CASE_IDX=$W/full/ranges.idx
}
s_db_full() { full_fs with-store; }
post_s_db_full() {
	rm -f "$W/full/filler"
	probe "[$CASE] space freed: fresh logs in again" fresh
	check_eq "[$CASE] space freed: fresh granted (PAM_SUCCESS)" 0 "$PROBE_RC"
	qv r "$(range_sql 3002)"
	check_eq "[$CASE] space freed: fresh got the slot after keeper's" "$((RMIN + RCOUNT)) $RCOUNT" "$r"
	getsubids_is "[$CASE] space freed: fresh served" "0: fresh $((RMIN + RCOUNT)) $RCOUNT" fresh
	qv r "$KEEPER_SQL"
	check_eq "[$CASE] space freed: keeper's rows unchanged" "$KEEPER_ROWS" "$r"
	check "[$CASE] space freed: the index lists exactly the store's owners" \
		"$PY" "$INV" --any-pool --db "$CASE_DB" --index "$CASE_IDX"
}
s_db_full_new() {
	full_fs
	KEEPER_DB=$DB # keeper was never in this store
	KEEPER_IDX=$IDX
}
post_s_db_full_new() {
	# A failed first grant publishes no index: still "no grant yet", so the
	# /etc/subuid entries must still be served.
	getsubids_is "[$CASE] after the failed first grant: /etc/subuid entry still served" \
		"0: dockremap 100000 65536" dockremap
	rm -f "$W/full/filler"
	probe "[$CASE] space freed: fresh logs in again" fresh
	check_eq "[$CASE] space freed: fresh granted (PAM_SUCCESS)" 0 "$PROBE_RC"
	getsubids_is "[$CASE] space freed: fresh served" "0: fresh $RMIN $RCOUNT" fresh
	getsubids_is "[$CASE] space freed: /etc/subuid entry served" "0: dockremap 100000 65536" dockremap
}
s_db_tampered() {
	sqlite3 "$DB" "PRAGMA ignore_check_constraints = 1; UPDATE ranges SET count = 0 WHERE uid = 3001 AND kind = 1;"
}
s_db_foreign() {
	rm -f "$DB"
	sqlite3 "$DB" "CREATE TABLE ranges(x); INSERT INTO ranges VALUES (1);"
	chmod 0600 "$DB"
}
# the index directory (above the store's) open to users: readers and writers refuse it
s_state_o_w() { chmod 0777 "$STATE"; }
s_state_user() { chown 3001:3001 "$STATE"; }
s_state_parent_user() { chown 3001:3001 "$W"; }

# read indexes: the plugin fails closed on them; a first login (a writer)
# finds the index unusable and publishes it again from the store first
s_idx_o_w() {
	chmod 0666 "$IDX"
	before_login "world-writable index" no
}
s_idx_g_w() {
	chown 0:3001 "$IDX"
	chmod 0664 "$IDX"
	before_login "group-writable index" no
}
s_idx_user() {
	chown 3001:3001 "$IDX"
	before_login "index owned by keeper" no
}
s_idx_symlink() {
	mv "$IDX" "$STATE/real.idx"
	ln -s real.idx "$IDX"
	before_login "index is a symlink" no
}
s_idx_is_dir() {
	rm -f "$IDX"
	mkdir -m 0755 "$IDX"
	before_login "index is a directory" no
}
s_idx_fifo() {
	rm -f "$IDX"
	mkfifo -m 0644 "$IDX"
	before_login "index is a FIFO" no
}
s_idx_missing() {
	rm -f "$IDX"
	before_login "no index" no
	getsubids_is "[$CASE] before the login: /etc/subuid entry still served" "0: dockremap 100000 65536" dockremap
}
s_idx_empty() {
	: >"$IDX"
	before_login "empty index" no
}
s_idx_truncated() {
	truncate -s 100 "$IDX"
	before_login "index truncated" no
}
s_idx_junk() {
	local size
	size=$(stat -c %s "$IDX")
	garbage "$size" 17 >"$IDX"
	before_login "index of random bytes" no
}
s_idx_header() {
	printf '\377' | nosan dd of="$IDX" bs=1 seek=40 conv=notrunc status=none
	before_login "a flipped byte in the index header" no
}
# keeper's owner record is the first (byte 64 on); byte 17 is in his subuid start
s_idx_flip() {
	printf '\377' | nosan dd of="$IDX" bs=1 seek=$((64 + 17)) conv=notrunc status=none
	before_login "a flipped byte in keeper's index record" no
}
post_idx_repaired() {
	check_eq "[$CASE] the index is a root-owned 0644 regular file again" "regular file 0 644" \
		"$(stat -c '%F %u %a' "$CASE_IDX" 2>&1)"
	log_clear
	getsubids_is "[$CASE] after the repair: keeper" "0: keeper $KS $KC" keeper
	log_grep_not "index (refused|error)" "[$CASE] after the repair the plugin refuses nothing"
}
post_s_idx_o_w() { post_idx_repaired; }
post_s_idx_g_w() { post_idx_repaired; }
post_s_idx_user() { post_idx_repaired; }
post_s_idx_symlink() { post_idx_repaired; }
post_s_idx_empty() { post_idx_repaired; }
post_s_idx_truncated() { post_idx_repaired; }
post_s_idx_junk() { post_idx_repaired; }
post_s_idx_header() { post_idx_repaired; }
post_s_idx_flip() { post_idx_repaired; }
post_s_idx_missing() { post_idx_repaired; }
s_idx_truncated_returning() {
	truncate -s 100 "$IDX"
	before_login "index truncated" no
}
post_s_idx_truncated_returning() { post_idx_repaired; }

# /etc/subuid and /etc/subgid with malformed lines among good ones
FILEOWNER_START=$((RMIN + RCOUNT)) # the slot right after keeper's
s_files_junk() {
	{
		printf '%s\n' "$GOOD_SUBID"                           # 1 good
		printf 'garbage-without-colons\n'                     # 2
		printf 'baduser:abc:65536\n'                          # 3
		printf 'huge:99999999999999999999:1\n'                # 4
		printf 'missing::\n'                                  # 5
		printf 'toomany:1:2:3\n'                              # 6
		printf '\001\376\377:\200:\220\n'                     # 7 binary junk
		printf 'nul\000user:5:5\n'                            # 8
		printf 'fileowner:%s:65536\n' "$FILEOWNER_START"      # 9 good, owner unknown to NSS
		printf ':5:5\n'                                       # 10
		printf 'pastend:4294967290:10\n'                      # 11
		printf 'zero:200000:0\n'                              # 12
	} >/etc/subuid
	printf '%s\nfileowner:%s:65536\nbroken:1\n' "$GOOD_SUBID" "$FILEOWNER_START" >/etc/subgid
}
post_s_files_junk() {
	local l
	for l in "2: ignored line reason=\"expected owner:start:count" "3: ignored line reason=\"bad start" "4: ignored line reason=\"bad start" \
		"5: ignored line reason=\"bad start" "6: ignored line reason=\"too many fields" "7: ignored line reason=\"bad start" \
		"8: ignored line reason=\"NUL byte in line" "10: ignored line reason=\"empty owner" \
		"11: ignored line reason=\"empty range or past the ID space" "12: ignored line reason=\"empty range or past the ID space"; do
		check_match "[$CASE] syslog: /etc/subuid:$l" "/etc/subuid:$l" "$LOG"
	done
	check_match "[$CASE] syslog: /etc/subgid:3 ignored" "/etc/subgid:3: ignored line reason=\"expected owner:start:count" "$LOG"
	check_nomatch "[$CASE] syslog: no complaint about the good lines" "/etc/sub[ug]id:(1|9): " "$LOG"
	qv r "SELECT start FROM ranges WHERE uid = 3002 AND kind = 1;"
	check_eq "[$CASE] allocation avoided the good /etc/subuid line (fresh got the slot after it)" \
		"$((FILEOWNER_START + RCOUNT))" "$r"
	getsubids_is "[$CASE] good line served" "0: dockremap 100000 65536" dockremap
	getsubids_is "[$CASE] good line of an owner NSS does not know served" \
		"0: fileowner $FILEOWNER_START 65536" fileowner
	getsubids_is "[$CASE] malformed line not served" "" baduser
	getsubids_is "[$CASE] zero-count line not served" "" zero
}

# ---- the table ---------------------------------------------------------------------------------
# name | setup | user | uid | module args | rc | rc with strict | syslog ERE | grant | keeper | owner
#   user   literal, or @VAR for the value of VAR
#   ERE    - for none, or @VAR for the value of VAR ('|' separates the columns)
#   grant  new: afterwards uid owns one subuid and one subgid range, same start, not keeper's;
#          none: nothing written (no row for uid, row count unchanged); -: not checked
#   keeper yes: served, has_range yes, rows unchanged, and the index lists exactly the
#          store's owners; no: not served, has_range no, rows unchanged; lost: store
#          destroyed on purpose: not served, has_range no; idx: store destroyed on purpose,
#          the published index still serves him (has_range yes)
#   (with grant none, the case's index must also be unchanged)
#   owner  what the plugin says of the case's user: range (its stored range), none (known,
#          no range), unknown (getsubids no range, libsubid -1, has_range UNKNOWN_USER and
#          false), - (not asked)
U_NL=$'keeper\nroot'
printf -v U_LONG '%10000s' ''
U_LONG=${U_LONG// /a}
U_EMPTY=
U_TRAIL="keeper "
ERE_TRAIL="unknown user=keeper\?\$"	# the space made visible: it cannot end the value
ERE_LONG="unknown user=a{200}"
ERE_CONF_PERM="$(rx "$CONF"): config refused reason=\"not a regular file owned by uid 0, or writable by group/others\""
ERE_DB_BEHIND="store refused path=$(rx "$DB") reason=\"generation 0 is behind the published index"
ERE_IDX_RECORD="index republished path=$(rx "$IDX") generation=[0-9]+ owners=[0-9]+ reason=\"a record did not match the store\""
ERE_DB_PERM="store refused path=$(rx "$DB") reason="
ERE_DB_DIR="store refused path=$(rx "$DB") reason=\"directory $(rx "$STATE/private")"
ERE_STATE_DIR="store refused path=$(rx "$DB") reason=\"directory $(rx "$STATE")"
ERE_DB_BROKEN="store error path=$(rx "$DB") op=[a-z]+ reason=\"(file is not a database|database disk image is malformed)\""
ERE_RO="store error path=$(rx "$W/ro/private/subid.db") .*(readonly|Read-only file system)"
ERE_FULL="(store error path=$(rx "$W/full/private/subid.db")|index error path=$(rx "$W/full/ranges.idx")) .*(database or disk is full|No space left on device)"
ERE_FULL_NEW="store error path=$(rx "$W/full/private/subid.db") .*(database or disk is full|No space left on device)"
ERE_IDX_REPUB="index republished path=$(rx "$IDX") generation=1 owners=1 reason=\"it was unusable\""
ERE_IDX_MISSING="index republished path=$(rx "$IDX") generation=1 owners=1 reason=\"it was missing\""
ERE_MIGRATED="store migrated path=$(rx "$DB") from=$(rx "$STATE/subid.db")"

TABLE=$(
	cat <<'EOF'
user name with ':'                     | s_none          | keeper:x   | -          | -              | 10 | 10 | unknown user=keeper:x            | none | yes  | unknown
user name with a newline               | s_none          | @U_NL      | -          | -              | 10 | 10 | unknown user=keeper\?root        | none | yes  | unknown
user name with '/'                     | s_none          | ../keeper  | -          | -              | 10 | 10 | unknown user=\.\./keeper         | none | yes  | unknown
user name with a leading '-'           | s_none          | -keeper    | -          | -              | 10 | 10 | unknown user=-keeper             | none | yes  | unknown
empty user name                        | s_none          | @U_EMPTY   | -          | -              | 10 | 10 | error reason="empty user name"   | none | yes  | unknown
user name of 10000 bytes               | s_none          | @U_LONG    | -          | -              | 10 | 10 | @ERE_LONG                        | none | yes  | unknown
user name with a trailing space        | s_none          | @U_TRAIL   | -          | -              | 10 | 10 | @ERE_TRAIL                       | none | yes  | unknown
user name in another case              | s_none          | KEEPER     | -          | -              | 10 | 10 | unknown user=KEEPER              | none | yes  | unknown
unknown user                           | s_none          | nosuchuser | -          | -              | 10 | 10 | unknown user=nosuchuser          | none | yes  | unknown
numeric user name 4242 (uid 4343)      | s_numeric_name  | 4242       | 4343       | -              | 25 | 25 | refused user=4242 uid=4343 reason="numeric user name" | none | yes | none
PAM user 3001 is a uid, not a name     | s_uid_as_name   | 3001       | -          | -              | 10 | 10 | unknown user=3001                | none | yes  | -
root (uid 0)                           | s_none          | root       | 0          | debug          | 25 | 25 | skipped user=root uid=0 reason=root | none | yes | none
uid below uid_min                      | s_none          | lowuser    | 500        | debug          | 25 | 25 | reason=uid_min                   | none | yes  | none
uid exactly uid_min                    | s_uidmin        | atmin      | 3100       | -              | 0  | 0  | granted user=atmin uid=3100      | new  | yes  | range
uid one below uid_min                  | s_uidmin        | belowmin   | 3099       | debug          | 25 | 25 | reason=uid_min                   | none | yes  | none
highest valid uid 4294967294           | s_none          | maxuid     | 4294967294 | -              | 0  | 0  | granted user=maxuid uid=4294967294 | new | yes  | range
member of a skip_groups group          | s_skipgroup     | grpuser    | 3011       | debug          | 25 | 25 | reason=skip_groups               | none | yes  | none
pool of 2 slots: last slot to range_max| s_pool2         | fresh      | 3002       | -              | 0  | 0  | granted user=fresh uid=3002 kind=subuid start=3000065536 count=65536 | new | yes | range
pool exhausted                         | s_pool_full     | fresh      | 3002       | -              | 25 | 14 | store full path=.* reason="pool \[3000000000, 3000131072\) exhausted | none | yes | none
pool ending at the ID limit            | s_pool_top      | fresh      | 3002       | -              | 0  | 0  | granted user=fresh uid=3002 kind=subuid start=4294901759 | new | yes | range
whole pool reserved                    | s_reserved_all  | fresh      | 3002       | -              | 25 | 14 | exhausted                        | none | yes  | none
config missing                         | s_conf_missing  | fresh      | 3002       | -              | 25 | 14 | /etc/subid\.conf: config error reason="cannot open: No such file | none | no | none
config empty (all defaults)            | s_conf_empty    | fresh      | 3002       | -              | 0  | 0  | granted user=fresh uid=3002      | new  | yes  | range
config: unknown key                    | s_conf_unknown_key | fresh   | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=frobnicate reason="unknown key" | none | no | none
config: bad number                     | s_conf_bad_number | fresh    | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=range_count reason="not a decimal number" | none | no | none
config: negative number                | s_conf_negative | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=range_min reason="negative number" | none | no | none
config: overflowing number             | s_conf_overflow | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=range_max reason= | none | no   | none
config: number past the ID space       | s_conf_past_ids | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=range_max reason="number out of range | none | no | none
config: range_count 0                  | s_conf_count0   | fresh      | 3002       | -              | 25 | 14 | subid\.conf: config error key=range_count reason="must be at least 1" | none | no | none
config: range_count larger than pool   | s_conf_count_big | fresh     | 3002       | -              | 25 | 14 | subid\.conf: config error key=range_count reason="65537 is larger than the pool | none | no | none
config: pool overlaps real IDs         | s_conf_real_ids | fresh      | 3002       | -              | 25 | 14 | subid\.conf: config error key=range_min reason="pool \[1000, 4294836224\) overlaps real account IDs | none | no | none
config is a symlink                    | s_conf_symlink  | fresh      | 3002       | -              | 25 | 14 | /etc/subid\.conf: config refused reason="symbolic link" | none | no | none
config world-writable                  | s_conf_o_w      | fresh      | 3002       | -              | 25 | 14 | @ERE_CONF_PERM                   | none | no   | none
config group-writable                  | s_conf_g_w      | fresh      | 3002       | -              | 25 | 14 | @ERE_CONF_PERM                   | none | no   | none
config owned by a user                 | s_conf_user     | fresh      | 3002       | -              | 25 | 14 | @ERE_CONF_PERM                   | none | no   | none
config is a FIFO                       | s_conf_fifo     | fresh      | 3002       | -              | 25 | 14 | @ERE_CONF_PERM                   | none | no   | none
config is a directory                  | s_conf_dir      | fresh      | 3002       | -              | 25 | 14 | @ERE_CONF_PERM                   | none | no   | none
config: NUL byte in a line             | s_conf_nul      | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error reason="NUL byte in line" | none | no   | none
config: line of 5000 bytes             | s_conf_long     | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error reason="line too long" | none | no   | none
config: binary junk                    | s_conf_junk     | fresh      | 3002       | -              | 25 | 14 | subid\.conf:[0-9]+:              | none | no   | none
config: relative db_path               | s_conf_rel_db   | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=db_path reason="db_path must be an absolute file path" | none | no | none
config: relative index_path            | s_conf_rel_idx  | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=index_path reason="index_path must be an absolute file path" | none | no | none
config: index_path names a directory   | s_conf_dir_idx  | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=index_path reason="index_path must be an absolute file path" | none | no | none
config: index_path is the store        | s_conf_idx_is_db | fresh     | 3002       | -              | 25 | 14 | store refused path=.* reason="the store needs a directory of its own | none | no | none
config: unknown store                  | s_conf_store    | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=store reason="unknown store | none | no | none
config: bad reserved interval          | s_conf_reserved | fresh      | 3002       | -              | 25 | 14 | subid\.conf:2: config error key=reserved reason="bad interval | none | no | none
conf= argument is /dev/zero            | s_none          | fresh      | 3002       | conf=/dev/zero | 25 | 14 | /dev/zero: config refused reason="not a regular file | none | yes | none
store missing (deleted)                | s_db_missing    | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_BEHIND                   | none | idx  | none
store truncated                        | s_db_truncated  | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_BROKEN                   | -    | idx  | none
store corrupt (random middle)          | s_db_corrupt    | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_BROKEN                   | -    | idx  | none
store corrupt (random header)          | s_db_header     | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_BROKEN                   | -    | idx  | none
store world-writable                   | s_db_o_w        | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_PERM                     | none | yes  | none
store directory world-writable         | s_db_dir_o_w    | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_DIR                      | none | yes  | none
store directory 0755 (old layout mode) | s_db_dir_open   | fresh      | 3002       | -              | 0  | 0  | granted user=fresh uid=3002      | new  | yes  | range
store owned by a user                  | s_db_user       | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_PERM                     | none | yes  | none
store directory owned by a user        | s_db_dir_user   | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_DIR                      | none | yes  | none
store is a symlink                     | s_db_symlink    | fresh      | 3002       | -              | 25 | 14 | store refused path=.* reason="symbolic link" | none | yes  | none
store is a directory                   | s_db_is_dir     | fresh      | 3002       | -              | 25 | 14 | @ERE_DB_PERM                     | -    | idx  | none
store of the old layout, no index      | s_db_old_layout | fresh      | 3002       | -              | 0  | 0  | @ERE_MIGRATED                    | new  | yes  | range
store on a read-only filesystem        | s_db_ro         | fresh      | 3002       | -              | 25 | 14 | @ERE_RO                          | none | yes  | none
returning user, read-only filesystem   | s_db_ro         | keeper     | 3001       | -              | 0  | 0  | -                                | -    | yes  | range
store on a full filesystem             | s_db_full       | fresh      | 3002       | -              | 25 | 14 | @ERE_FULL                        | none | yes  | none
first grant on a full filesystem       | s_db_full_new   | fresh      | 3002       | -              | 25 | 14 | @ERE_FULL_NEW                    | -    | no   | none
store row tampered, returning user     | s_db_tampered   | keeper     | 3001       | -              | 0  | 0  | -                                | -    | idx  | -
store is someone else's database       | s_db_foreign    | fresh      | 3002       | -              | 25 | 14 | store error path=.* op=schema reason= | -    | idx  | none
index directory world-writable         | s_state_o_w     | fresh      | 3002       | -              | 25 | 14 | @ERE_STATE_DIR                   | none | no   | none
index directory owned by a user        | s_state_user    | fresh      | 3002       | -              | 25 | 14 | @ERE_STATE_DIR                   | none | no   | none
directory above the index owned by a user | s_state_parent_user | fresh | 3002     | -              | 25 | 14 | store refused path=.* reason="directory .*can be changed by users other than root | none | no | none
index world-writable                   | s_idx_o_w       | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index group-writable                   | s_idx_g_w       | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index owned by a user                  | s_idx_user      | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index is a symlink                     | s_idx_symlink   | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index is a directory                   | s_idx_is_dir    | fresh      | 3002       | -              | 25 | 14 | index error path=.* | none | no   | none
index is a FIFO                        | s_idx_fifo      | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index missing                          | s_idx_missing   | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_MISSING                 | new  | yes  | range
index empty                            | s_idx_empty     | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index truncated                        | s_idx_truncated | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index of random bytes                  | s_idx_junk      | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index header damaged                   | s_idx_header    | fresh      | 3002       | -              | 0  | 0  | @ERE_IDX_REPUB                   | new  | yes  | range
index record of keeper damaged         | s_idx_flip      | keeper     | 3001       | -              | 0  | 0  | @ERE_IDX_RECORD                  | -    | yes  | range
returning user, index truncated        | s_idx_truncated_returning | keeper | 3001   | -              | 0  | 0  | @ERE_IDX_REPUB                   | -    | yes  | range
/etc/subuid with malformed lines       | s_files_junk    | fresh      | 3002       | -              | 0  | 0  | /etc/subuid:2: ignored line reason= | new  | yes  | range
EOF
)

# set_trimmed VAR VALUE, set_deref VAR VALUE (@NAME -> value of NAME): no subshells.
set_trimmed() {
	local s=$2
	s=${s#"${s%%[![:space:]]*}"}
	s=${s%"${s##*[![:space:]]}"}
	printf -v "$1" '%s' "$s"
}
set_deref() {
	case "$2" in
	@*) local v=${2#@}; printf -v "$1" '%s' "${!v}" ;;
	*) printf -v "$1" '%s' "$2" ;;
	esac
}

mapfile -t ROWS <<<"$TABLE"
NCASES=0
for row in "${ROWS[@]}"; do
	[[ $row == *[![:space:]]* ]] || continue
	IFS='|' read -r -a F <<<"$row"
	[ "${#F[@]}" -eq 11 ] || hard_error "table row has ${#F[@]} columns, not 11: $row"
	for i in "${!F[@]}"; do set_trimmed "F[$i]" "${F[$i]}"; done
	CASE=${F[0]} SETUP=${F[1]} UID_=${F[3]} WANT_RC=${F[5]} WANT_STRICT=${F[6]}
	GRANT=${F[8]} KEEPER=${F[9]} OWNER=${F[10]}
	set_deref USER_ "${F[2]}"
	set_deref ERE "${F[7]}"
	declare -F "$SETUP" >/dev/null || hard_error "no setup function $SETUP"
	if [ -n "${SUBID_HOSTILE_ONLY:-}" ] && ! [[ $CASE =~ $SUBID_HOSTILE_ONLY ]]; then continue; fi
	ARGS=()
	[ "${F[4]}" = - ] || read -r -a ARGS <<<"${F[4]}"
	NCASES=$((NCASES + 1))
	diag "---- case $NCASES: $CASE"

	restore
	log_clear
	"$SETUP"
	: "${KEEPER_DB:=$CASE_DB}" "${KEEPER_IDX:=$CASE_IDX}"
	qv TOTAL_BEFORE "SELECT count(*) FROM ranges;"
	: "${TOTAL_BEFORE:=0}" # no store yet: no rows
	IDX_BEFORE=$(sum_of "$CASE_IDX")

	# the module, without and with strict
	probe "[$CASE]" "$USER_" ${ARGS[@]+"${ARGS[@]}"}
	check_eq "[$CASE] return code" "$WANT_RC" "$PROBE_RC"
	check_eq "[$CASE] no fd left open, nothing written to stdout/stderr" "0 0 0" "$PROBE_HYG"
	probe "[$CASE] strict" "$USER_" ${ARGS[@]+"${ARGS[@]}"} strict
	check_eq "[$CASE] return code with strict" "$WANT_STRICT" "$PROBE_RC"

	# the syslog
	LOG=$(log_text)
	if [ "$ERE" != - ]; then check_match "[$CASE] syslog matches /$ERE/" "$ERE" "$LOG"; fi
	if [ "$WANT_RC" = 25 ] && [ "$WANT_STRICT" = 14 ]; then
		check_true "[$CASE] syslog: the login proceeds without strict (action=ignore)" "${LOG/*action=ignore*/y}" = y
		check_true "[$CASE] syslog: strict denies it (action=deny)" "${LOG/*action=deny*/y}" = y
	fi

	# the store
	case "$GRANT" in
	new)
		qv r "SELECT start, count FROM ranges WHERE uid = $UID_ ORDER BY kind;"
		read -r s1 c1 s2 c2 _ <<<"${r//$'\n'/ } - - - -"
		check_eq "[$CASE] store: uid $UID_ owns one subuid and one subgid range, same start" "$s1 $c1" "$s2 $c2"
		if [ "$KEEPER" = lost ]; then
			: # the store forgot keeper: his old range is free again
		elif [[ $s1 =~ ^[0-9]+$ && $c1 =~ ^[0-9]+$ ]]; then
			check_true "[$CASE] store: uid $UID_'s range ($s1+$c1) does not overlap keeper's" \
				"$(((s1 + c1 <= KS) || (s1 >= KS + KC)))" = 1
		else
			not_ok "[$CASE] store: uid $UID_ got a range" "rows: $r"
		fi
		;;
	none)
		qv r "SELECT count(*) FROM ranges WHERE uid = ${UID_/-/-1}; SELECT count(*) FROM ranges;"
		check_eq "[$CASE] store: nothing written (rows of uid $UID_, all rows)" "0"$'\n'"$TOTAL_BEFORE" "$r"
		check_eq "[$CASE] index: nothing published" "$IDX_BEFORE" "$(sum_of "$CASE_IDX")"
		;;
	esac
	if [ "$KEEPER" = yes ] || [ "$KEEPER" = no ]; then
		qv r "$KEEPER_SQL" "$KEEPER_DB"
		check_eq "[$CASE] store: keeper's rows unchanged" "$KEEPER_ROWS" "$r"
		# the shared checker: integrity, one range of each kind per owner, no
		# overlaps; where keeper is served, the index lists exactly the store's owners
		if [ "$KEEPER" = yes ]; then
			check "[$CASE] store: invariants hold; the index lists exactly the store's owners" \
				"$PY" "$INV" --any-pool --db "$KEEPER_DB" --index "$KEEPER_IDX"
		else
			check "[$CASE] store: invariants hold" "$PY" "$INV" --any-pool --db "$KEEPER_DB"
		fi
	elif [ "$KEEPER" = idx ]; then
		check_eq "[$CASE] index: unchanged (the writer store is broken: nothing published)" "$IDX_BEFORE" "$(sum_of "$CASE_IDX")"
	fi

	# the plugin: keeper
	if [ "$KEEPER" = yes ] || [ "$KEEPER" = idx ]; then
		getsubids_is "[$CASE] keeper" "0: keeper $KS $KC" keeper
		map_check "[$CASE] keeper" 3001 yes "$KS" "$KC"
	else
		getsubids_is "[$CASE] keeper" "" keeper
		map_check "[$CASE] keeper" 3001 no "$KS" "$KC"
	fi

	# the plugin: the case's user
	case "$OWNER" in
	range)
		qv r "$(range_sql "$UID_")"
		getsubids_is "[$CASE] owner $USER_" "0: $USER_ $r" "$USER_"
		;;
	none)
		getsubids_is "[$CASE] owner" "" "$USER_"
		;;
	unknown)
		getsubids_is "[$CASE] owner" "" "$USER_"
		owner_query "$USER_" "$KS" "$KC"
		exited_ok "[$CASE] libsubid + plugin has_range"
		check_eq "[$CASE] libsubid: unknown owner is an error (-1); has_range: UNKNOWN_USER, false" \
			"-1"$'\n'"1 0" "$C_OUT"
		;;
	esac

	if declare -F "post_$SETUP" >/dev/null; then "post_$SETUP"; fi
done
restore

[ "$NCASES" -gt 0 ] || hard_error "no case matches SUBID_HOSTILE_ONLY=${SUBID_HOSTILE_ONLY:-}"
diag "$NCASES cases"
finish
