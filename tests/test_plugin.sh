#!/bin/bash
# libsubid_subid.so through shadow's real loader (`subid: subid` in
# /etc/nsswitch.conf, private linker cache): getsubids, libsubid's API,
# setuid newuidmap/newgidmap, as root and as the owner, in a private mount
# namespace with an overlay /etc.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare mount pamtester getsubids newuidmap newgidmap setpriv ldconfig python3 sqlite3
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db # the writer store: root's alone
IDX=$W/state/ranges.idx      # the published read index: all the plugin reads (with the files)
RMIN=2147483648 # defaults
RMAX=4294836224
RCOUNT=65536
# the interpreter itself: a version manager's shim may not be reachable by users
PY=$(python3 -c 'import sys; print(sys.executable)')

add_user alice 2001
add_user bob 2002
add_user carol 2003
add_user dockremap 999 65534 # system account, like Debian's docker package makes
printf 'dockremap:100000:65536\n' >/etc/subuid
printf 'dockremap:100000:65536\n' >/etc/subgid
chmod 0644 /etc/subuid /etc/subgid

conf() { # files=yes|no
	write_conf <<EOF
# subid test configuration: default pool
store = local
db_path = $DB
files = $1
EOF
}
conf yes

pam_service subid-test "required $PAM_MODULE" "required pam_permit.so"
login_pair subid-test alice bob
check_true "alice: subuid range inside the default pool" "$A_START" -ge "$RMIN" -a "$((A_START + A_COUNT))" -le "$RMAX"
check_eq "alice: default range_count" "$RCOUNT" "$A_COUNT"
check_eq "the index lists alice and bob as the store holds them" \
	"2001 $A_START $A_COUNT $AG_START $AG_COUNT"$'\n'"2002 $B_START $B_COUNT $BG_START $BG_COUNT" \
	"$(python3 "$top_srcdir/tests/invariants.py" --dump-index "$IDX" | grep -v '^generation')"
check_fail "as alice: the writer store cannot be opened" as_user 2001 cat "$DB"

# Control: without the plugin, shadow reads the (empty for alice) files.
capture getsubids alice
check_eq "plugin off: getsubids alice prints no range" "" "$C_OUT"

enable_plugin

# getsubids OWNER-ARGS... must print exactly EXPECTED and load the plugin.
getsubids_is() {
	local desc=$1 expected=$2
	shift 2
	capture "$@"
	check_eq "$desc" "$expected" "$C_OUT"
	check_nomatch "$desc: plugin loaded (no fallback to files)" 'Using files|Error opening|did not provide' "$C_ERR"
}

# ---- getsubids as root -----------------------------------------------------------------
getsubids_is "getsubids alice" "0: alice $A_START $A_COUNT" getsubids alice
check_eq "getsubids alice exits 0" 0 "$C_RC"
getsubids_is "getsubids -g alice" "0: alice $AG_START $AG_COUNT" getsubids -g alice
getsubids_is "getsubids 2001 (owner as decimal uid)" "0: 2001 $A_START $A_COUNT" getsubids 2001
getsubids_is "getsubids -g 2001 (owner as decimal uid)" "0: 2001 $AG_START $AG_COUNT" getsubids -g 2001
getsubids_is "getsubids bob" "0: bob $B_START $B_COUNT" getsubids bob
getsubids_is "getsubids -g bob" "0: bob $BG_START $BG_COUNT" getsubids -g bob
getsubids_is "getsubids carol (known, no range) prints nothing" "" getsubids carol
getsubids_is "getsubids -g carol (known, no range) prints nothing" "" getsubids -g carol
capture getsubids nosuchuser
check_eq "getsubids nosuchuser prints nothing" "" "$C_OUT"
check_true "getsubids nosuchuser fails" "$C_RC" -ne 0
getsubids_is "getsubids dockremap (/etc/subuid entry served by the plugin)" "0: dockremap 100000 65536" getsubids dockremap
getsubids_is "getsubids -g dockremap (/etc/subgid entry served by the plugin)" "0: dockremap 100000 65536" getsubids -g dockremap

# ---- getsubids as the owner (unprivileged) ------------------------------------------------
getsubids_is "as alice: getsubids alice" "0: alice $A_START $A_COUNT" as_user 2001 getsubids alice
check_eq "as alice: getsubids alice exits 0" 0 "$C_RC"
getsubids_is "as alice: getsubids -g alice" "0: alice $AG_START $AG_COUNT" as_user 2001 getsubids -g alice
getsubids_is "as carol: getsubids bob" "0: bob $B_START $B_COUNT" as_user 2003 getsubids bob

# ---- libsubid API (list_owner_ranges, find_subid_owners) -----------------------------------
capture libsubid_query uranges:alice granges:alice uranges:carol uranges:nosuchuser \
	"uowners:$((A_START + 5))" "gowners:$((AG_START + AG_COUNT - 1))" "uowners:$((B_START))" \
	uowners:100005 gowners:100005 "uowners:$((RMAX - 1))"
Q=$C_OUT
[ "$C_RC" -eq 0 ] || { not_ok "libsubid via ctypes ran" "exit $C_RC" "$C_ERR"; }
qline() { printf '%s\n' "$Q" | grep "^$1 " || true; }
check_eq "libsubid: uid ranges of alice" "uranges:alice 1 $A_START+$A_COUNT" "$(qline uranges:alice)"
check_eq "libsubid: gid ranges of alice" "granges:alice 1 $AG_START+$AG_COUNT" "$(qline granges:alice)"
check_eq "libsubid: carol (known, no range): 0 ranges, not an error" "uranges:carol 0" "$(qline uranges:carol)"
check_eq "libsubid: unknown user: error (-1)" "uranges:nosuchuser -1" "$(qline uranges:nosuchuser)"
check_eq "libsubid: owner of a subuid in alice's range" "uowners:$((A_START + 5)) 1 2001" "$(qline "uowners:$((A_START + 5))")"
check_eq "libsubid: owner of the last subgid in alice's range" "gowners:$((AG_START + AG_COUNT - 1)) 1 2001" "$(qline "gowners:$((AG_START + AG_COUNT - 1))")"
check_eq "libsubid: owner of the first subuid in bob's range" "uowners:$B_START 1 2002" "$(qline "uowners:$B_START")"
check_eq "libsubid: owner of a subuid in dockremap's /etc/subuid entry" "uowners:100005 1 999" "$(qline uowners:100005)"
check_eq "libsubid: owner of a subgid in dockremap's /etc/subgid entry" "gowners:100005 1 999" "$(qline gowners:100005)"
check_eq "libsubid: unowned id has no owner" "uowners:$((RMAX - 1)) 0" "$(qline "uowners:$((RMAX - 1))")"

# ---- newuidmap / newgidmap as alice ---------------------------------------------------------
# map_ok TOOL DESC MAPPING...: TOOL (newuidmap|newgidmap) run as alice on a
# fresh user namespace of hers accepts MAPPING, and the kernel map shows it.
map_ok() {
	local tool=$1 desc=$2 file expected=
	shift 2
	file=uid
	[ "$tool" = newgidmap ] && file=gid
	start_userns_sleeper 2001
	check "$desc: $tool accepts $*" as_user 2001 "$tool" "$SLEEPER_PID" "$@"
	while [ $# -ge 3 ]; do
		expected="$expected${expected:+$'\n'}$1 $2 $3"
		shift 3
	done
	check_eq "$desc: /proc/PID/${file}_map" "$expected" "$(read_map "$SLEEPER_PID" "$file")"
	stop_sleeper "$SLEEPER_PID"
}
map_refused() {
	local tool=$1 desc=$2 file
	shift 2
	file=uid
	[ "$tool" = newgidmap ] && file=gid
	start_userns_sleeper 2001
	log_clear
	check_fail "$desc: $tool refuses $*" as_user 2001 "$tool" "$SLEEPER_PID" "$@"
	check_eq "$desc: /proc/PID/${file}_map stays empty" "" "$(read_map "$SLEEPER_PID" "$file")"
	# a range the owner lacks (the fail-closed cases below log their own cause)
	[ -z "${log_refusals:-}" ] ||
		log_grep "refused owner=alice kind=sub$file start=$2 count=$3 reason=\"not within the owner's ranges\"" \
			"$desc: the plugin logs the refusal"
	stop_sleeper "$SLEEPER_PID"
}

map_ok newuidmap "alice's whole subuid range" 0 "$A_START" "$A_COUNT"
map_ok newgidmap "alice's whole subgid range" 0 "$AG_START" "$AG_COUNT"
map_ok newuidmap "two extents inside alice's range" 0 "$((A_START + 100))" 1000 1000 "$((A_START + 5000))" 10
map_ok newuidmap "last subuid of alice's range" 0 "$((A_START + A_COUNT - 1))" 1
log_refusals=yes
map_refused newuidmap "straddling the end of alice's range" 0 "$((A_START + A_COUNT - 1))" 2
map_refused newuidmap "straddling the start of alice's range" 0 "$((A_START - 1))" 2
map_refused newuidmap "outside every range" 0 1000000 100
map_refused newuidmap "inside bob's subuid range" 0 "$B_START" 100
map_refused newgidmap "inside bob's subgid range" 0 "$BG_START" 100
map_refused newuidmap "inside dockremap's /etc/subuid entry" 0 100000 100
map_refused newgidmap "outside every range" 0 1000000 100
log_refusals=

# ---- the plugin fails closed ------------------------------------------------------------------
# no_answer DESC: alice's ranges are not served and newuidmap/newgidmap refuse
# them (has_range answers false on every error).
no_answer() {
	capture getsubids alice
	check_eq "$1: getsubids alice prints nothing" "" "$C_OUT"
	map_refused newuidmap "$1: fail closed" 0 "$A_START" "$A_COUNT"
	map_refused newgidmap "$1: fail closed" 0 "$AG_START" "$AG_COUNT"
}

write_conf <<EOF
db_path = $DB
frobnicate = yes
EOF
no_answer "config with an unknown key"
conf yes
chmod 0666 "$SUBID_CONF_PATH"
no_answer "world-writable $SUBID_CONF_PATH"
chmod 0644 "$SUBID_CONF_PATH"
chown 2001 "$SUBID_CONF_PATH"
no_answer "$SUBID_CONF_PATH owned by alice"
chown 0 "$SUBID_CONF_PATH"
getsubids_is "config safe again: getsubids alice" "0: alice $A_START $A_COUNT" getsubids alice

# ---- the writer store: the plugin never reads it ----------------------------------------------
# serves_index DESC: alice's ranges are served from the published index as
# root and as alice, and the setuid tools map them.
serves_index() {
	getsubids_is "$1: getsubids alice (from the index)" "0: alice $A_START $A_COUNT" getsubids alice
	getsubids_is "$1: as alice: getsubids -g alice" "0: alice $AG_START $AG_COUNT" as_user 2001 getsubids -g alice
	map_ok newuidmap "$1: newuidmap" 0 "$A_START" "$A_COUNT"
	map_ok newgidmap "$1: newgidmap" 0 "$AG_START" "$AG_COUNT"
}
# writer_refuses DESC: a writer (carol's first login, strict) meets the
# damaged store: the login fails, the refusal is logged, nothing is published.
pam_service subid-strict "required $PAM_MODULE strict" "required pam_permit.so"
writer_refuses() {
	local sum
	sum=$(sha256sum <"$IDX")
	log_clear
	check_fail "$1: a writer (carol's first login, strict) fails" pamtester subid-strict carol open_session
	log_grep "store (refused|error) path=$(rx "$DB")" "$1: the writer logs why"
	check_eq "$1: the index was not republished" "$sum" "$(sha256sum <"$IDX")"
	getsubids_is "$1: carol got nothing" "" getsubids carol
}
cp -p "$DB" "$W/good.db"
store_restore() {
	rm -rf "$DB" "$DB-journal"
	cp -p "$W/good.db" "$DB"
	chown 0:0 "$DB" "$(dirname "$DB")"
	chmod 0600 "$DB"
	chmod 0700 "$(dirname "$DB")"
}

chmod 0666 "$DB"
serves_index "world-writable store database"
writer_refuses "world-writable store database"
store_restore
chown 2001 "$DB"
serves_index "store database owned by alice"
writer_refuses "store database owned by alice"
store_restore
chmod 0777 "$(dirname "$DB")"
serves_index "store directory world-writable"
writer_refuses "store directory world-writable"
store_restore
python3 -c 'import random, sys; random.seed(7); sys.stdout.buffer.write(random.randbytes(int(sys.argv[1])))' \
	"$(stat -c %s "$DB")" >"$W/junk.db"
cat "$W/junk.db" >"$DB"
serves_index "store database overwritten with random bytes"
writer_refuses "store database overwritten with random bytes"
store_restore
# a writer that died mid-transaction: a hot journal and a half-written store
leave_hot_journal "$DB"
check "a writer died mid-transaction: hot journal beside the store" test -s "$DB-journal"
serves_index "hot journal in the store"
store_restore
getsubids_is "store safe again: getsubids alice" "0: alice $A_START $A_COUNT" getsubids alice

# ---- the read index: the same damage makes the plugin fail closed ------------------------------
cp -p "$IDX" "$W/good.idx"
index_restore() {
	rm -rf "$IDX" "$W/state/real.idx"
	cp -p "$W/good.idx" "$IDX"
	chown 0:0 "$IDX" "$W/state" "$W"
	chmod 0644 "$IDX"
	chmod 0755 "$W/state" "$W"
}
# index_refused DESC ERE: nothing served, both setuid tools refuse, and the
# plugin (inside newgidmap, the last tool run) logged an "index" line matching ERE.
index_refused() {
	no_answer "$1"
	log_grep "index (refused|error) path=$(rx "$IDX") reason=\"$2" "$1: the plugin logs why"
	index_restore
}
IX_PERM="not a regular file owned by uid 0, or writable by group/others"
IX_DIR="a directory above it can be changed by users other than root"
# the owner records start at byte 64, 48 bytes each, in uid order: alice's first
IX_ALICE=64

chmod 0666 "$IDX"
index_refused "world-writable index" "$IX_PERM"
chmod 0664 "$IDX"
chown 0:2001 "$IDX"
index_refused "group-writable index (group alice)" "$IX_PERM"
chown 2001 "$IDX"
index_refused "index owned by alice" "$IX_PERM"
mv "$IDX" "$W/state/real.idx"
ln -s real.idx "$IDX"
index_refused "index is a symlink to a good root-owned index" "symbolic link"
ln -sf "$W/good.idx" "$IDX"
index_refused "index is a symlink to a good index elsewhere" "symbolic link"
rm -f "$IDX"
mkdir -m 0755 "$IDX"
index_refused "index is a directory" "$IX_PERM"
rm -rf "$IDX"
mkfifo -m 0644 "$IDX"
capture timeout 10 getsubids alice
check_true "index is a FIFO: getsubids does not hang (status $C_RC)" "$C_RC" -ne 124
index_refused "index is a FIFO" "$IX_PERM"
: >"$IDX"
index_refused "index is empty" "malformed"
truncate -s 63 "$IDX"
index_refused "index truncated inside its header (63 bytes)" "malformed"
truncate -s $(($(stat -c %s "$IDX") - 1)) "$IDX"
index_refused "index truncated by one byte" "malformed"
printf '\0' >>"$IDX"
index_refused "index one byte longer than its header says" "malformed"
printf '\001' | nosan dd of="$IDX" bs=1 seek=16 conv=notrunc status=none
index_refused "a flipped byte in the index header (generation)" "malformed"
printf 'X' | nosan dd of="$IDX" bs=1 seek=0 conv=notrunc status=none
index_refused "bad magic" "malformed"
printf '\377' | nosan dd of="$IDX" bs=1 seek=$((IX_ALICE + 17)) conv=notrunc status=none
getsubids_is "a flipped byte in alice's record: bob's record is intact and still served" \
	"0: bob $B_START $B_COUNT" getsubids bob
index_refused "a flipped byte in alice's owner record (her subuid start)" "malformed record"
printf '\377' | nosan dd of="$IDX" bs=1 seek=$((IX_ALICE + 4)) conv=notrunc status=none
index_refused "a flipped byte in alice's owner record (its checksum)" "malformed record"
chown 2001 "$W/state"
index_refused "index directory owned by alice" "$IX_DIR"
chmod 0777 "$W/state"
index_refused "index directory world-writable (not sticky)" "$IX_DIR"
chmod 0775 "$W/state"
chown 0:2001 "$W/state"
index_refused "index directory group-writable, group alice" "$IX_DIR"
chown 2001 "$W"
index_refused "a directory two levels above the index owned by alice" "$IX_DIR"
# no index at all: nothing was ever granted, as far as readers know
rm -f "$IDX"
no_answer "no index"
getsubids_is "no index: the /etc/subuid entries are still served" "0: dockremap 100000 65536" getsubids dockremap
index_restore
# a damaged subuid span (the owner search): find_subid_owners fails, it never
# names anyone; the owner records (has_range) are not on that path
nix=$(python3 "$top_srcdir/tests/invariants.py" --dump-index "$IDX" | grep -vc '^generation')
printf '\377' | nosan dd of="$IDX" bs=1 seek=$((64 + 48 * nix + 2)) conv=notrunc status=none
capture libsubid_query "uowners:$((A_START + 5))" "uowners:$((B_START + 5))"
check_eq "a flipped byte in alice's subuid span: the owner of an ID in her range is an error, no one" \
	"uowners:$((A_START + 5)) -1" "$(printf '%s\n' "$C_OUT" | grep "^uowners:$((A_START + 5)) ")"
index_restore
getsubids_is "index safe again: getsubids alice" "0: alice $A_START $A_COUNT" getsubids alice

# ---- a damaged index is found and repaired ------------------------------------------------------
printf '\377' | nosan dd of="$IDX" bs=1 seek=$((IX_ALICE + 17)) conv=notrunc status=none
capture "$SUBIDCTL" check
check_eq "subidctl check: exit 1 on a damaged index" 1 "$C_RC"
check_match "subidctl check names the damaged record" "index $(rx "$IDX").*damaged" "$C_OUT"
# alice's own login finds her record unusable: it takes the writer path,
# which must make the index serve her again (she cannot use newuidmap until then)
log_clear
check "alice's login with her index record damaged succeeds" pamtester subid-test alice open_session close_session
getsubids_is "... and the plugin serves her ranges again (the login repaired the index)" \
	"0: alice $A_START $A_COUNT" getsubids alice
log_grep "index republished path=$(rx "$IDX") .*reason=\"(it was unusable|a record did not match the store)" "... logged as a republish"
printf '\377' | nosan dd of="$IDX" bs=1 seek=$((IX_ALICE + 17)) conv=notrunc status=none
capture "$SUBIDCTL" reindex
check_eq "subidctl reindex republishes a damaged index" "0|reindex: 2 owners published to $IDX" "$C_RC|$C_OUT"
getsubids_is "after subidctl reindex: getsubids alice" "0: alice $A_START $A_COUNT" getsubids alice
check "after subidctl reindex: the index lists exactly the store's owners" \
	python3 "$top_srcdir/tests/invariants.py" --db "$DB" --index "$IDX"
index_restore

# ---- readers never wait: no lock of any writer (or of a user) stalls the plugin ------------------
# hold_locks SECONDS: the writers' flock on <db>.lock and an exclusive SQLite
# lock on the store (which stops even SQLite readers), both held by root; and,
# as alice, flock and a POSIX read lock on the index itself.
hold_locks() {
	: >"$W/locks.out"
	python3 -c 'import fcntl, sqlite3, sys, time
db, secs = sys.argv[1], float(sys.argv[2])
lk = open(db + ".lock", "r+")
fcntl.flock(lk, fcntl.LOCK_EX)
c = sqlite3.connect(db, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(secs)
c.execute("COMMIT")' "$DB" "$1" >"$W/locks.out" 2>&1 &
	LOCKS_PID=$!
	bg_track "$LOCKS_PID"
	wait_ready "$LOCKS_PID" "$W/locks.out" locked "could not lock $DB"
	: >"$W/ixlock.out"
	as_user 2001 "$PY" -c 'import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.flock(f, fcntl.LOCK_EX)
fcntl.lockf(f, fcntl.LOCK_SH)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))' "$IDX" "$1" >"$W/ixlock.out" 2>&1 &
	IXLOCK_PID=$!
	bg_track "$IXLOCK_PID"
	wait_ready "$IXLOCK_PID" "$W/ixlock.out" locked "alice could not lock $IDX"
}
release_locks() {
	kill "$LOCKS_PID" "$IXLOCK_PID" 2>/dev/null || true
	wait "$LOCKS_PID" "$IXLOCK_PID" 2>/dev/null || true
}
hold_locks 30
T0=$(now_ms)
capture getsubids alice
T1=$(now_ms)
check_eq "store locked by a writer, index locked by alice: getsubids alice answers" "0: alice $A_START $A_COUNT" "$C_OUT"
check_true "... at once, without waiting for any lock (took $((T1 - T0)) ms)" $((T1 - T0)) -lt 500
T0=$(now_ms)
capture as_user 2001 getsubids -g alice
T1=$(now_ms)
check_eq "... as alice: getsubids -g alice answers" "0: alice $AG_START $AG_COUNT" "$C_OUT"
check_true "... at once (took $((T1 - T0)) ms)" $((T1 - T0)) -lt 500
start_userns_sleeper 2001
T0=$(now_ms)
check "locks held: setuid newuidmap accepts alice's range" \
	as_user 2001 newuidmap "$SLEEPER_PID" 0 "$A_START" "$A_COUNT"
T1=$(now_ms)
check_eq "... and /proc/PID/uid_map shows it" "0 $A_START $A_COUNT" "$(read_map "$SLEEPER_PID" uid)"
check_true "... at once (took $((T1 - T0)) ms)" $((T1 - T0)) -lt 500
stop_sleeper "$SLEEPER_PID"
release_locks
# the plugin never loads SQLite (LD_DEBUG: getsubids is not setuid)
capture env LD_DEBUG=libs getsubids alice
check_nomatch "getsubids with the plugin loads no libsqlite3" 'libsqlite3' "$C_ERR"
check_match "... (LD_DEBUG shows the plugin loaded)" 'libsubid_subid' "$C_ERR"

# ---- union of index and files; adjacent ranges cover together ----------------------------------
printf 'dockremap:100000:65536\nalice:%s:1000\n' "$((A_START - 1000))" >/etc/subuid
capture getsubids alice
check_eq "alice with an /etc/subuid entry too: getsubids alice prints both ranges" \
	"$(printf '%s 1000\n%s %s' "$((A_START - 1000))" "$A_START" "$A_COUNT")" \
	"$(printf '%s\n' "$C_OUT" | awk '{print $3, $4}' | LC_ALL=C sort -n)"
map_ok newuidmap "spanning alice's /etc/subuid entry and her adjacent index range" 0 "$((A_START - 500))" 1000
map_refused newuidmap "starting below alice's /etc/subuid entry" 0 "$((A_START - 1001))" 2

# ---- files = no ----------------------------------------------------------------------------
conf no
getsubids_is "files = no: getsubids dockremap prints nothing" "" getsubids dockremap
getsubids_is "files = no: getsubids -g dockremap prints nothing" "" getsubids -g dockremap
getsubids_is "files = no: getsubids alice serves only the index range" "0: alice $A_START $A_COUNT" getsubids alice

finish
