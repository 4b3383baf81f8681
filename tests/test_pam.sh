#!/bin/bash
# pam_subid.so through the real libpam (pamtester), as root, in a private
# mount namespace with an overlay /etc: allocation at first login, reuse,
# disjoint owners, skipped accounts, unknown users, and refused configs.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare mount pamtester sqlite3 python3 setpriv
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db
IDX=$W/state/ranges.idx # index_path's default: ranges.idx in the directory above the store's
RMIN=3000000000
RCOUNT=100000
RMAX=$((RMIN + 100 * RCOUNT))
M=$PAM_MODULE
CONF=$SUBID_CONF_PATH

add_user alice 2001
add_user bob 2002
add_user carol 2003
add_user lowuser 500
add_user skipme 2004
add_group nosubid 2100 grpuser
add_user grpuser 2005
add_user grpprim 2006 2100 # primary group nosubid
for i in 1 2 3 4 5 6 7 8; do add_user "par$i" "$((2200 + i))"; done
add_user same 2210
add_user newbie 2211

good_conf() {
	write_conf "${1:-$CONF}" <<EOF
# subid test configuration
store = local
db_path = ${2:-$DB}
range_min = $RMIN
range_max = $RMAX
range_count = $RCOUNT
uid_min = 1000
files = yes
skip_users = skipme,nobody
skip_groups = nosubid
EOF
}
good_conf

pam_service subid-test "optional $M" "required pam_permit.so"
pam_service subid-debug "optional $M debug" "required pam_permit.so"
pam_service subid-req "required $M" "required pam_permit.so"
pam_service subid-strict "required $M strict" "required pam_permit.so"
# These two turn the module's return value into pamtester's exit status.
pam_service subid-want-success "[success=ok default=die] $M" "required pam_permit.so"
pam_service subid-want-ignore "[ignore=ignore default=die] $M" "required pam_permit.so"

MSG_UNKNOWN="User not known to the underlying authentication module"
MSG_SESSION_ERR="Cannot make/remove an entry for the specified session"

# pam_fails DESC MESSAGE SERVICE USER OP...: pamtester fails and says MESSAGE.
pam_fails() {
	local desc=$1 msg=$2
	shift 2
	check_fail "$desc" pamtester "$@"
	check_match "$desc: pamtester says \"$msg\"" "$(rx "$msg")" "$(cat "$T_OUT")"
}

# index_dump: the published index, read by invariants.py ("generation G", then
# "UID US UC GS GC" per owner)
index_dump() { python3 "$top_srcdir/tests/invariants.py" --dump-index "$IDX"; }

range_of() { # UID KIND -> "start count"
	db_query "SELECT start, count FROM ranges WHERE uid = $1 AND kind = $2;"
}

# A user that must have been left alone: session fine, PAM_IGNORE, no rows.
check_skipped() {
	local user=$1 uid=$2 why=$3
	log_clear
	check "$user ($why): session opens and closes" pamtester subid-test "$user" open_session close_session
	check "$user ($why): module returns PAM_IGNORE" pamtester subid-want-ignore "$user" open_session
	check "$user ($why): required module does not block the session" pamtester subid-req "$user" open_session close_session
	check_eq "$user ($why): no ranges in the store" 0 "$(db_rows "uid = $uid")"
	log_grep_not "granted user=$user " "$user ($why): no grant logged"
}

# ---- first login of alice ---------------------------------------------------------
log_clear
check "alice: first login returns PAM_SUCCESS (umask 077)" \
	bash -c 'umask 077; exec pamtester "$@"' _ subid-want-success alice open_session

check "store database created" test -f "$DB"
# The writer store is root's alone; readers use the published index.
check_eq "store database is root-owned, mode 0600" "0 0 600" "$(stat -c '%u %g %a' "$DB" 2>&1)"
check_eq "store directory is root-owned, mode 0700" "0 0 700" "$(stat -c '%u %g %a' "$(dirname "$DB")" 2>&1)"
check_eq "writer lock file is root-owned, mode 0600" "0 0 600" "$(stat -c '%u %g %a' "$DB.lock" 2>&1)"
check "read index created" test -f "$IDX"
check_true "read index is a regular file, not a symlink" ! -L "$IDX"
check_eq "read index is root-owned, mode 0644, in the directory above the store's" "0 0 644" \
	"$(stat -c '%u %g %a' "$IDX" 2>&1)"
check_eq "index directory is root-owned, mode 0755" "0 0 755" "$(stat -c '%u %g %a' "$(dirname "$IDX")" 2>&1)"
check_eq "nothing but private/ and the index in the index's directory (no store of the old layout)" "" \
	"$(find "$(dirname "$IDX")" -mindepth 1 -maxdepth 1 ! -name private ! -name ranges.idx)"
check_fail "a user cannot read the store" as_user 2002 cat "$DB"
# shellcheck disable=SC2016 # $1 is expanded by the inner sh
check_fail "a user cannot open the lock file" as_user 2002 sh -c ': <"$1"' _ "$DB.lock"
check "a user can read the index" as_user 2002 cat "$IDX"

check_eq "alice: one subuid and one subgid row" "1 2" "$(db_query "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM ranges WHERE uid = 2001 ORDER BY kind);")"
read -r A_START A_COUNT _ <<<"$(range_of 2001 1) - - -"
read -r AG_START AG_COUNT _ <<<"$(range_of 2001 2) - - -"
check_eq "alice: subuid count is range_count" "$RCOUNT" "$A_COUNT"
check_eq "alice: subgid count is range_count" "$RCOUNT" "$AG_COUNT"
check_eq "alice: subuid and subgid ranges start at the same number" "$A_START" "$AG_START"
if [[ $A_START =~ ^[0-9]+$ && $A_COUNT =~ ^[0-9]+$ ]]; then
	check_true "alice: range inside [range_min, range_max)" "$A_START" -ge "$RMIN" -a "$((A_START + A_COUNT))" -le "$RMAX"
else
	not_ok "alice: range inside [range_min, range_max)" "no numeric range: '$A_START $A_COUNT'"
fi
check_eq "alice: first fit gives the first owner range_min" "$RMIN" "$A_START"
check_eq "alice: name kept in the store" "alice" "$(db_query "SELECT DISTINCT name FROM ranges WHERE uid = 2001;")"
log_grep "granted user=alice uid=2001 kind=subuid start=$A_START count=$RCOUNT( |\$)" "alice: subuid grant logged"
log_grep "granted user=alice uid=2001 kind=subgid start=$A_START count=$RCOUNT( |\$)" "alice: subgid grant logged"
check_eq "alice: exactly two grant lines" 2 "$(log_text | grep -c 'granted user=alice ' || true)"
check_eq "store is in rollback-journal mode" delete "$(db_query "PRAGMA journal_mode;")"
check_eq "the index lists alice's ranges as the store holds them" "generation 1"$'\n'"2001 $A_START $A_COUNT $AG_START $AG_COUNT" \
	"$(index_dump)"
check "index and store agree (invariants.py --index)" \
	python3 "$top_srcdir/tests/invariants.py" --db "$DB" --index "$IDX" --range-min "$RMIN" --range-max "$RMAX" --count "$RCOUNT"

# ---- second login: same ranges, nothing written -------------------------------------
ROWS=$(db_rows)
# what a later login of an owner the index lists must leave alone
state_sum() { stat -c '%n %i %s %Y %a %u' "$DB" "$DB.lock" "$IDX" 2>&1; sha256sum "$DB" "$IDX" 2>&1; }
SUM=$(state_sum)
log_clear
check "alice: second login (open+close) succeeds" pamtester subid-test alice open_session close_session
check "alice: second login returns PAM_SUCCESS" pamtester subid-want-success alice open_session
check_eq "alice: same subuid range after second login" "$A_START $RCOUNT" "$(range_of 2001 1)"
check_eq "alice: same subgid range after second login" "$A_START $RCOUNT" "$(range_of 2001 2)"
check_eq "second login: row count unchanged" "$ROWS" "$(db_rows)"
log_grep_not "granted user=alice" "second login: no grant logged"
log_grep_not "index republished|store migrated" "second login: no republish, no migration"
check "module argument debug accepted" pamtester subid-debug alice open_session close_session
check "strict module with a good config: session succeeds" pamtester subid-strict alice open_session close_session
check_eq "later logins of an owner the index lists: store, lock file and index untouched (same inode, size, mtime, content)" \
	"$SUM" "$(state_sum)"

# An owner the index lists needs neither the store nor its lock: a login must
# not wait for another login's write.  Both locks are held (the writers' flock
# on the lock file, and an exclusive SQLite lock on the store, which stops
# even readers of the database) for longer than the module's busy timeout
# (15 s), so a login that needed either would return PAM_IGNORE, which this
# service turns into a failure.
flock_hold() { # flock_hold FILE SECONDS: hold flock LOCK_EX on FILE; returns once held
	: >"$W/flock.out"
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))' "$1" "$2" >"$W/flock.out" 2>&1 &
	FLOCK_PID=$!
	bg_track "$FLOCK_PID"
	wait_ready "$FLOCK_PID" "$W/flock.out" locked "could not flock $1"
}
flock_hold "$DB.lock" 60
db_lock EXCLUSIVE 60
T0=$(now_ms)
check "alice: login succeeds while other processes hold the writer lock and an exclusive lock on the store" \
	pamtester subid-want-success alice open_session
T1=$(now_ms)
check_true "... without waiting for them (took $((T1 - T0)) ms)" $((T1 - T0)) -lt 2000
db_release
kill "$FLOCK_PID" 2>/dev/null || true
wait "$FLOCK_PID" 2>/dev/null || true

# ---- bob: disjoint --------------------------------------------------------------------
log_clear
check "bob: first login returns PAM_SUCCESS" pamtester subid-want-success bob open_session
read -r B_START B_COUNT _ <<<"$(range_of 2002 1) - - -"
check_eq "bob: subgid range equals his subuid range" "$B_START $B_COUNT" "$(range_of 2002 2)"
check_eq "bob: count is range_count" "$RCOUNT" "$B_COUNT"
check_eq "bob: first fit gives the next slot" "$((RMIN + RCOUNT))" "$B_START"
check_eq "alice and bob: no overlapping ranges (any kind)" 0 "$(db_query "SELECT count(*) FROM ranges a JOIN ranges b ON a.uid < b.uid AND a.start < b.start + b.count AND b.start < a.start + a.count;")"
log_grep "granted user=bob uid=2002 kind=subuid start=$B_START count=$RCOUNT( |\$)" "bob: subuid grant logged"
log_grep "granted user=bob uid=2002 kind=subgid start=$B_START count=$RCOUNT( |\$)" "bob: subgid grant logged"

# ---- accounts that get nothing --------------------------------------------------------
check_skipped root 0 "root"
check_skipped lowuser 500 "uid < uid_min"
check_skipped skipme 2004 "skip_users"
check_skipped grpuser 2005 "supplementary group in skip_groups"
check_skipped grpprim 2006 "primary group in skip_groups"

# ---- unknown user -----------------------------------------------------------------------
log_clear
pam_fails "unknown user: required module fails the session" "$MSG_UNKNOWN" subid-req nosuchuser open_session
check "unknown user: optional module does not block the session" pamtester subid-test nosuchuser open_session close_session
log_grep_not "granted user=nosuchuser" "unknown user: no grant logged"

ROWS=$(db_rows)

# ---- broken config: unknown key ---------------------------------------------------------
write_conf <<EOF
# subid test configuration with an unknown key on line 3
db_path = $DB
frobnicate = yes
EOF
log_clear
check "unknown key: login proceeds with the optional module" pamtester subid-test carol open_session close_session
check "unknown key: module returns PAM_IGNORE" pamtester subid-want-ignore carol open_session
log_grep "$(rx "$CONF:3:")" "unknown key: syslog names $CONF:3"
log_grep_not "granted user=carol" "unknown key: no grant logged"
check_eq "unknown key: nothing written" "$ROWS 0" "$(db_rows) $(db_rows "uid = 2003")"
pam_fails "unknown key: strict module fails the session" "$MSG_SESSION_ERR" subid-strict carol open_session
check_eq "unknown key: strict: nothing written" "$ROWS" "$(db_rows)"

# ---- broken config: bad value -------------------------------------------------------------
write_conf <<EOF
db_path = $DB
range_count = lots
EOF
log_clear
check "bad value: login proceeds with the optional module" pamtester subid-test carol open_session close_session
log_grep "$(rx "$CONF:2:")" "bad value: syslog names $CONF:2"
check_eq "bad value: nothing written" "$ROWS 0" "$(db_rows) $(db_rows "uid = 2003")"
pam_fails "bad value: strict module fails the session" "$MSG_SESSION_ERR" subid-strict carol open_session

# ---- config whose pool overlaps real account IDs (login.defs 1000..60000) ----------------
write_conf <<EOF
db_path = $DB
range_min = 1000
range_max = 70000
EOF
log_clear
check "pool overlapping real IDs: login proceeds with the optional module" pamtester subid-test carol open_session close_session
check "pool overlapping real IDs: module returns PAM_IGNORE" pamtester subid-want-ignore carol open_session
log_grep "$(rx "$CONF")" "pool overlapping real IDs: syslog names $CONF"
log_grep_not "granted user=carol" "pool overlapping real IDs: no grant logged"
check_eq "pool overlapping real IDs: nothing written" "$ROWS 0" "$(db_rows) $(db_rows "uid = 2003")"
pam_fails "pool overlapping real IDs: strict module fails the session" "$MSG_SESSION_ERR" subid-strict carol open_session
check_eq "pool overlapping real IDs: strict: nothing written" "$ROWS" "$(db_rows)"

# ---- conf= pointing at unsafe files ------------------------------------------------------
good_conf
ALT=$W/conf/alt.conf
DB2=$W/state2/private/subid.db
good_conf "$ALT" "$DB2"
pam_service subid-alt "optional $M conf=$ALT" "required pam_permit.so"
pam_service subid-alt-strict "required $M conf=$ALT strict" "required pam_permit.so"

chmod 0666 "$ALT"
log_clear
check "world-writable conf=: login proceeds with the optional module" pamtester subid-alt carol open_session close_session
log_grep "$(rx "$ALT")" "world-writable conf=: syslog names $ALT"
log_grep_not "granted user=carol" "world-writable conf=: no grant logged"
check "world-writable conf=: no store created" test ! -e "$DB2"
check_eq "world-writable conf=: nothing written to the default store either" "$ROWS 0" "$(db_rows) $(db_rows "uid = 2003")"
pam_fails "world-writable conf=: strict module fails the session" "$MSG_SESSION_ERR" subid-alt-strict carol open_session

chmod 0664 "$ALT"
pam_fails "group-writable conf=: strict module fails the session" "$MSG_SESSION_ERR" subid-alt-strict carol open_session
chmod 0644 "$ALT"
chown 2001:0 "$ALT"
pam_fails "conf= owned by a user: strict module fails the session" "$MSG_SESSION_ERR" subid-alt-strict carol open_session
check "refused conf= files: no store created" test ! -e "$DB2"
check "refused conf= files: no index published" test ! -e "$W/state2/ranges.idx"

chown 0:0 "$ALT"
log_clear
check "root-owned 0644 conf=: strict session succeeds" pamtester subid-alt-strict carol open_session close_session
check_eq "root-owned 0644 conf=: carol granted in that config's store" 2 "$(db_rows "uid = 2003" "$DB2")"
check_eq "root-owned 0644 conf=: default store untouched" "$ROWS 0" "$(db_rows) $(db_rows "uid = 2003")"
check_match "root-owned 0644 conf=: carol published in that store's index ($W/state2/ranges.idx)" "^2003 " \
	"$(python3 "$top_srcdir/tests/invariants.py" --dump-index "$W/state2/ranges.idx")"
check_nomatch "root-owned 0644 conf=: the default index does not list carol" "^2003 " "$(index_dump)"
log_grep "granted user=carol uid=2003 kind=subuid " "root-owned 0644 conf=: grant logged"

# The same good file through a relative path (resolved against the caller's
# working directory) or a symbolic link is refused.
ln -s alt.conf "$W/conf/link.conf"
pam_service subid-rel-strict "required $M conf=alt.conf strict" "required pam_permit.so"
pam_service subid-link-strict "required $M conf=$W/conf/link.conf strict" "required pam_permit.so"
# shellcheck disable=SC2016 # $1 is expanded by the inner bash
check_fail "relative conf=: strict module fails the session" \
	bash -c 'cd "$1" && exec pamtester subid-rel-strict carol open_session' _ "$W/conf"
check_fail "conf= naming a symlink: strict module fails the session" pamtester subid-link-strict carol open_session

# ---- concurrent first logins --------------------------------------------------------------
# 8 new users at once, and one new user logging in 4 times at once.
log_clear
pids=
for i in 1 2 3 4 5 6 7 8; do
	pamtester subid-want-success "par$i" open_session >"$W/par$i.out" 2>&1 &
	pids="$pids $!"
done
for i in 1 2 3 4; do
	pamtester subid-want-success same open_session >"$W/same$i.out" 2>&1 &
	pids="$pids $!"
done
nfail=0
for p in $pids; do wait "$p" || nfail=$((nfail + 1)); done
check_eq "concurrent first logins: all 12 return PAM_SUCCESS" 0 "$nfail"
[ "$nfail" -eq 0 ] || cat "$W"/par*.out "$W"/same*.out | sort | uniq -c | sed 's/^/#   | /'
check_eq "concurrent first logins: every new user owns one subuid and one subgid range" 9 \
	"$(db_query "SELECT count(*) FROM (SELECT uid FROM ranges WHERE uid BETWEEN 2201 AND 2210 GROUP BY uid HAVING count(*) = 2 AND count(DISTINCT kind) = 2 AND count(DISTINCT start) = 1);")"
check_eq "concurrent logins of one new user: one range of each kind" "1 2" \
	"$(db_query "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM ranges WHERE uid = 2210 ORDER BY kind);")"
check_eq "concurrent logins of one new user: exactly two grant lines" 2 "$(log_text | grep -c 'granted user=same ' || true)"
check_eq "concurrent first logins: no overlapping ranges between owners" 0 \
	"$(db_query "SELECT count(*) FROM ranges a JOIN ranges b ON a.uid < b.uid AND a.start < b.start + b.count AND b.start < a.start + a.count;")"
check_eq "concurrent first logins: 18 grant lines in all" 18 "$(log_text | grep -c 'granted user=' || true)"
check "concurrent first logins: the index lists exactly what the store holds, at the store's generation" \
	python3 "$top_srcdir/tests/invariants.py" --db "$DB" --index "$IDX" --range-min "$RMIN" --range-max "$RMAX" --count "$RCOUNT"
diag_file "$T_OUT"

# ---- rename: the store is keyed by uid ------------------------------------------------------
ROWS=$(db_rows)
sed -i 's/^alice:x:2001:/alicia:x:2001:/' /etc/passwd
log_clear
check "renamed alice -> alicia (same uid): login returns PAM_SUCCESS" pamtester subid-want-success alicia open_session
check_eq "renamed: same subuid range" "$A_START $RCOUNT" "$(range_of 2001 1)"
check_eq "renamed: same subgid range" "$A_START $RCOUNT" "$(range_of 2001 2)"
check_eq "renamed: row count unchanged" "$ROWS" "$(db_rows)"
log_grep_not "granted user=alicia" "renamed: no grant logged"
sed -i 's/^alicia:x:2001:/alice:x:2001:/' /etc/passwd

# ---- /etc/subuid and /etc/subgid entries inside the pool are taken ---------------------------
# Slots 0..10 of the pool are in the store now.  Legacy file entries, in no
# particular order, block slots 11, 12 (subuid) and 13 (subgid).
L1=$((RMIN + 11 * RCOUNT + 7))
L2=$((RMIN + 12 * RCOUNT))
L3=$((RMIN + 13 * RCOUNT))
printf 'legacy2:%s:%s\nlegacy1:%s:10\n' "$L2" "$RCOUNT" "$L1" >/etc/subuid
printf 'legacy3:%s:%s\n' "$L3" "$RCOUNT" >/etc/subgid
log_clear
check "newbie: first login with legacy entries in /etc/subuid, /etc/subgid" pamtester subid-want-success newbie open_session
read -r N_START N_COUNT _ <<<"$(range_of 2211 1) - - -"
check_eq "newbie: subgid range equals subuid range" "$N_START $N_COUNT" "$(range_of 2211 2)"
if [[ $N_START =~ ^[0-9]+$ && $N_COUNT =~ ^[0-9]+$ ]]; then
	N_END=$((N_START + N_COUNT))
	check_true "newbie: range does not overlap legacy1 [$L1, $((L1 + 10))) of /etc/subuid" $((L1 + 10)) -le "$N_START" -o "$N_END" -le "$L1"
	check_true "newbie: range does not overlap legacy2 [$L2, $((L2 + RCOUNT))) of /etc/subuid" $((L2 + RCOUNT)) -le "$N_START" -o "$N_END" -le "$L2"
	check_true "newbie: range does not overlap legacy3 [$L3, $((L3 + RCOUNT))) of /etc/subgid" $((L3 + RCOUNT)) -le "$N_START" -o "$N_END" -le "$L3"
else
	not_ok "newbie: got a range" "range: '$N_START $N_COUNT'"
fi
check_eq "newbie: first fit skips the legacy entries" "$((RMIN + 14 * RCOUNT))" "$N_START"
: >/etc/subuid
: >/etc/subgid

# ---- store invariants --------------------------------------------------------------------
check_eq "store: owners are exactly alice, bob, par1..par8, same and newbie" "2001 2002 2201 2202 2203 2204 2205 2206 2207 2208 2210 2211" "$(db_query "SELECT group_concat(uid, ' ') FROM (SELECT DISTINCT uid FROM ranges ORDER BY uid);")"
check_eq "store: every range inside the pool with count range_count" 0 \
	"$(db_query "SELECT count(*) FROM ranges WHERE start < $RMIN OR start + count > $RMAX OR count != $RCOUNT;")"
check_eq "store: one subuid and one subgid range per owner, same start" 0 \
	"$(db_query "SELECT count(*) FROM (SELECT uid FROM ranges GROUP BY uid HAVING count(*) != 2 OR count(DISTINCT kind) != 2 OR min(kind) != 1 OR max(kind) != 2 OR count(DISTINCT start) != 1);")"
check "store and index: invariants hold, the index lists exactly the store's owners and ranges" \
	python3 "$top_srcdir/tests/invariants.py" --db "$DB" --index "$IDX" --range-min "$RMIN" --range-max "$RMAX" --count "$RCOUNT"
diag_file "$T_OUT"

finish
