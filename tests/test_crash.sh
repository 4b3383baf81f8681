#!/bin/bash
# Crash safety: allocating processes are SIGKILLed at random instants (more
# than 1000 allocations reported done, seed printed).  After every round the
# published index is well-formed, never goes back, and lists every
# allocation reported so far.  Straight after the last kill, before any
# writer ran again, the plugin serves every reported allocation from the
# index (whatever the kills left in the writer store), and the index lists no
# range the store gives someone else.  Once a writer has run, SQLite's
# integrity check passes, the store invariants hold, and the index and the
# store agree owner for owner.  Made certain as well: a hot journal in the
# store (the plugin serves on, the next writer rolls it back), and a writer
# that stopped between its commit and its publish (the next writer
# republishes the index first).
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap setpriv
subid_require_build
DRIVER=$top_builddir/tests/alloc_driver
[ -x "$DRIVER" ] || hard_error "$DRIVER not built: run make check"
subid_enter_ns "$@"

DB=$W/state/private/subid.db
IDX=$W/state/ranges.idx
INV=$top_srcdir/tests/invariants.py
NUSERS=1300
BASE=10000
LATE=$((BASE + NUSERS)) # late<i> has uid LATE + i: writers for after the kills
printf 'dockremap:%s:65536\n' $((2147483648 + 3 * 65536)) >>/etc/subuid
: >>/etc/subgid
write_conf <<EOF
db_path = $DB
EOF
# users in bulk (add_user checks the host one by one: too slow for 1300)
for i in $(seq 1 $NUSERS); do
	printf 'crash%d:x:%d:%d::/nonexistent:/bin/sh\n' "$i" $((BASE + i)) $((BASE + i))
done >>/etc/passwd
for i in 1 2 3 4 5 6 7; do
	printf 'late%d:x:%d:%d::/nonexistent:/bin/sh\n' "$i" $((LATE + i)) $((LATE + i))
done >>/etc/passwd
pam_service subid-crash "required $PAM_MODULE strict" "required pam_permit.so"

check "allocations under SIGKILL (the index checked after every round)" python3 "$top_srcdir/tests/crash_test.py" \
	"$DRIVER" "$SUBID_CONF_PATH" crash "$NUSERS" "$BASE" "$W/reported" 1000 "$DB" "$IDX"
cat "$T_OUT"

# hot as SQLite defines it: non-empty and a first byte other than zero (a
# journal whose header was never written is ignored)
hot_journal() { [ -s "$DB-journal" ] && [ "$(head -c 1 "$DB-journal" | od -An -tu1 | tr -d ' ')" != 0 ]; }

# snapshot: a copy of the store (and its journal) in $W/snap, the journal
# rolled back there as the next writer will; the store itself is not touched
snapshot() {
	rm -rf "$W/snap"
	mkdir -m 0700 "$W/snap"
	cp -p "$DB" "$W/snap/subid.db"
	if [ -e "$DB-journal" ]; then cp -p "$DB-journal" "$W/snap/subid.db-journal"; fi
	python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM sqlite_master").fetchall()' \
		"$W/snap/subid.db"
}
idx_gen() { python3 "$INV" --dump-index "$IDX" | sed -n 's/^generation //p'; }
store_gen() { db_query "SELECT value FROM meta WHERE key = 'generation';" "${1:-$DB}"; }
owners_sql="SELECT u.uid, u.start, u.count, g.start, g.count FROM ranges u JOIN ranges g ON g.uid = u.uid AND g.kind = 2
	WHERE u.kind = 1 ORDER BY u.uid;"

# served_all QUERYFILE EXPECTFILE DESC: libsubid (through the plugin) answers
# the queries of QUERYFILE exactly as EXPECTFILE says
served_all() {
	# shellcheck disable=SC2046 # one query per word
	libsubid_query $(cat "$1") >"$W/served.out" 2>&1 || true
	if cmp -s "$2" "$W/served.out"; then
		ok "$3 ($(wc -l <"$2") queries)"
	else
		not_ok "$3" "differences (< expected, > served):"
		diff "$2" "$W/served.out" | head -n 20 | sed 's/^/#   | /'
	fi
}

# ---- straight after the last kill, before any writer ran again ------------------------------
enable_plugin
if hot_journal; then diag "the last kill left a hot journal in the store"; fi
snapshot
GI=$(idx_gen)
GS=$(store_gen "$W/snap/subid.db")
diag "after the kills: index generation ${GI:-none}, store generation ${GS:-none} (its journal rolled back)"
check_true "after the kills: the index is not ahead of the store (${GI:-none} <= ${GS:-none})" "${GI:-1}" -le "${GS:-0}"
check "after the kills: the index lists no range the store gives another owner, every owner it lists as the store does" \
	python3 "$INV" --db "$W/snap/subid.db" --index "$IDX" --index-may-lag --expect-file "$W/reported"
tail -n 1 "$T_OUT"
# every reported allocation, both kinds, through shadow's libsubid and the plugin
awk -v b="$BASE" '{ printf "uranges:crash%d granges:crash%d\n", $1 - b, $1 - b }' "$W/reported" >"$W/q"
awk -v b="$BASE" '{ printf "uranges:crash%d 1 %s+65536\ngranges:crash%d 1 %s+65536\n", $1 - b, $2, $1 - b, $2 }' \
	"$W/reported" >"$W/want"
served_all "$W/q" "$W/want" "after the kills, before any writer: the plugin serves every reported allocation"
first=$(head -n 1 "$W/reported")
fuid=${first% *}
fstart=${first#* }
fuser=crash$((fuid - BASE))
want="^0: $fuser $fstart 65536$"
check_match "getsubids $fuser serves the reported allocation" "$want" "$(getsubids "$fuser" 2>&1)"

# the first writer after the crashes rolls back a journal the kills left,
# republishes the index first when it lagged, then grants late1
log_clear
check "the first writer after the kills (late1's first login) succeeds" pamtester subid-crash late1 open_session close_session
if [ "${GI:-x}" != "${GS:-y}" ]; then
	log_grep "index republished path=$(rx "$IDX") generation=${GS:-x} owners=[0-9]+ reason=\"it lagged the store" \
		"the index lagged the store: the first writer republished it first"
else
	log_grep_not "index republished" "the index was current: the first writer did not republish it"
fi
check "no journal left in the store" test ! -e "$DB-journal"
check "after one writer: integrity, invariants, every reported allocation present; the index lists exactly the store's owners" \
	python3 "$INV" --db "$DB" --index "$IDX" --expect-file "$W/reported"
tail -n 1 "$T_OUT"
# every owner of the store, both kinds, through the plugin
db_query "$owners_sql" | awk '{ printf "uranges:%s granges:%s\n", $1, $1 }' >"$W/q"
db_query "$owners_sql" | awk '{ printf "uranges:%s 1 %s+%s\ngranges:%s 1 %s+%s\n", $1, $2, $3, $1, $4, $5 }' >"$W/want"
served_all "$W/q" "$W/want" "after one writer: the plugin serves every owner of the store exactly as stored"

# ---- made certain: a hot journal in the writer store ----------------------------------------------
# A writer that spilled pages into the database and died before COMMIT
# leaves a hot journal and a half-written file: readers never look at it.
ROWS=$(db_rows)
leave_hot_journal "$DB"
check "a writer died mid-transaction: hot journal present" hot_journal
IDXSUM=$(sha256sum <"$IDX")
log_clear
check_match "hot journal: the plugin serves the published index" "$want" "$(getsubids "$fuser" 2>&1)"
log_grep_not "hot journal|store (error|refused)" "hot journal: the plugin does not look at the store"
start_userns_sleeper "$fuid"
check "hot journal: setuid newuidmap maps the owner's own range" \
	as_user "$fuid" newuidmap "$SLEEPER_PID" 0 "$fstart" 65536
check_eq "... /proc/PID/uid_map" "0 $fstart 65536" "$(read_map "$SLEEPER_PID" uid)"
stop_sleeper "$SLEEPER_PID"
check "hot journal: a later login of an owner the index lists succeeds" \
	pamtester subid-crash "$fuser" open_session close_session
check "... without opening the store: the hot journal is still there" hot_journal
check_eq "... and the index is unchanged" "$IDXSUM" "$(sha256sum <"$IDX")"
log_clear
check "the next writer (late2's first login) succeeds" pamtester subid-crash late2 open_session close_session
check "... it rolled the journal back" test ! -e "$DB-journal"
check_eq "... the dead writer's rows are gone, its deletion undone, late2 added" \
	"0 $((ROWS + 2))" "$(db_query "SELECT count(*) FROM meta WHERE key LIKE 'junk%';") $(db_rows)"
log_grep_not "index republished" "... the index did not lag (the dead writer never committed)"
check "after the rollback: invariants; the index lists exactly the store's owners" \
	python3 "$INV" --db "$DB" --index "$IDX" --expect-file "$W/reported"
check_match "after the rollback the plugin serves the range" "$want" "$(getsubids "$fuser" 2>&1)"
# a writer killed before it wrote the journal's header leaves one that
# SQLite ignores: so do the plugin and the next writer
head -c 512 /dev/zero >"$DB-journal"
check_match "a journal whose header was never written: the plugin serves" "$want" "$(getsubids "$fuser" 2>&1)"
check "... and the next writer (late3's first login) succeeds" pamtester subid-crash late3 open_session close_session
rm -f "$DB-journal"
check "... the invariants hold" python3 "$INV" --db "$DB" --index "$IDX" --expect-file "$W/reported"

# ---- made certain: a writer stopped between its commit and its publish ------------------------
# lose_publish USER: USER's first login, then the index it replaced put back
# (atomically), as if the writer had died after its COMMIT, before its rename
lose_publish() {
	cp -p "$IDX" "$W/idx.before"
	check "$1's first login" pamtester subid-crash "$1" open_session close_session
	cp -p "$W/idx.before" "$W/state/.restore.idx"
	mv -f "$W/state/.restore.idx" "$IDX"
}
lose_publish late4
L4=$(db_query "SELECT start FROM ranges WHERE uid = $((LATE + 4)) AND kind = 1;")
check_eq "the index lags the store by one generation" "$(($(store_gen) - 1))" "$(idx_gen)"
check "a lagging index lists no range the store gives another owner" \
	python3 "$INV" --db "$DB" --index "$IDX" --index-may-lag
capture getsubids late4
check_eq "a lagging index: late4's committed range is not served yet" "" "$C_OUT"
log_clear
check "the next writer (late5's first login) succeeds" pamtester subid-crash late5 open_session close_session
log_grep "index republished path=$(rx "$IDX") generation=[0-9]+ owners=[0-9]+ reason=\"it lagged the store" \
	"... it republished the lagging index first"
check_match "... late4's range is served now" "^0: late4 $L4 65536$" "$(getsubids late4 2>&1)"
check "... the index lists exactly the store's owners" python3 "$INV" --db "$DB" --index "$IDX" --expect-file "$W/reported"
# The same, when the next to log in is the owner whose publish was lost: the
# index does not list him, so his login takes the writer path, and when it
# returns success his ranges must be served (newuidmap needs them).
lose_publish late6
L6=$(db_query "SELECT start FROM ranges WHERE uid = $((LATE + 6)) AND kind = 1;")
log_clear
check "late6 logs in again, his publish lost: the login succeeds" pamtester subid-crash late6 open_session close_session
check_match "... and his range is served (his login republished the lagging index)" \
	"^0: late6 $L6 65536$" "$(getsubids late6 2>&1)"
log_grep "index republished path=$(rx "$IDX") .*reason=\"it lagged the store" "... logged as a republish"

check "a first login after the crashes allocates (late7)" pamtester subid-crash late7 open_session close_session
check_match "... and late7 is served" "^0: late7 [0-9]+ 65536$" "$(getsubids late7 2>&1)"
check "the invariants still hold; the index lists exactly the store's owners" \
	python3 "$INV" --db "$DB" --index "$IDX" --expect-file "$W/reported"
tail -n 1 "$T_OUT"
finish
