#!/bin/bash
# Crash safety: allocating processes are SIGKILLed at random instants (more
# than 1000 allocations reported done, seed printed).  Afterwards SQLite's
# integrity check passes, the store invariants hold, every allocation that
# was reported done is still there, the plugin still serves them straight
# after a kill, and later logins go on allocating.
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap setpriv
subid_require_build
DRIVER=$top_builddir/tests/alloc_driver
[ -x "$DRIVER" ] || hard_error "$DRIVER not built: run make check"
subid_enter_ns "$@"

DB=$W/state/subid.db
NUSERS=1300
BASE=10000
printf 'dockremap:%s:65536\n' $((2147483648 + 3 * 65536)) >>/etc/subuid
: >>/etc/subgid
write_conf <<EOF
db_path = $DB
EOF
# users in bulk (add_user checks the host one by one: too slow for 1300)
for i in $(seq 1 $NUSERS); do
	printf 'crash%d:x:%d:%d::/nonexistent:/bin/sh\n' "$i" $((BASE + i)) $((BASE + i))
done >>/etc/passwd

check "allocations under SIGKILL" python3 "$top_srcdir/tests/crash_test.py" "$DRIVER" \
	"$SUBID_CONF_PATH" crash "$NUSERS" "$BASE" "$W/reported" 1000 "$DB"
cat "$T_OUT"

# straight after the last kill, before any writer ran again: the plugin
# serves what was reported, or, when the last kill left a hot journal, fails
# closed until the next login rolls the journal back
enable_plugin
first=$(head -n 1 "$W/reported")
fuser=crash$((${first% *} - BASE))
want="^0: $fuser ${first#* } 65536$"
# hot as SQLite defines it: non-empty and a first byte other than zero (a
# journal whose header was never written is ignored)
hot_journal() { [ -s "$DB-journal" ] && [ "$(head -c 1 "$DB-journal" | od -An -tu1 | tr -d ' ')" != 0 ]; }
if hot_journal; then
	diag "the last kill left a hot journal"
	check_nomatch "hot journal: the plugin answers nothing (fail closed)" "$want" "$(getsubids "$fuser" 2>&1)"
	log_grep "store error path=$(rx "$DB") reason=\"hot journal" "hot journal: the refusal is logged"
	pam_service subid-crash "required $PAM_MODULE strict" "required pam_permit.so"
	check "a login rolls the journal back" pamtester subid-crash "$fuser" open_session close_session
fi
check_match "the plugin serves a reported allocation" "$want" "$(getsubids "$fuser" 2>&1)"

check "integrity and invariants after the kills; every reported allocation present" \
	python3 "$top_srcdir/tests/invariants.py" --db "$DB" --expect-file "$W/reported"
tail -n 1 "$T_OUT"

# The same, made certain: a writer that spilled pages into the database and
# died before COMMIT leaves a hot journal and a half-written file.
python3 - "$DB" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA cache_size = 1")
c.execute("BEGIN IMMEDIATE")
for i in range(3000):
    c.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("junk%d" % i, i))
c.execute("DELETE FROM ranges")
os._exit(0)
PY
check "a writer died mid-transaction: hot journal present" hot_journal
log_clear
check_nomatch "hot journal: the plugin answers nothing (fail closed)" "$want" "$(getsubids "$fuser" 2>&1)"
log_grep "store error path=$(rx "$DB") reason=\"hot journal" "hot journal: the refusal is logged"
fuid=${first% *}
start_userns_sleeper "$fuid"
check_fail "hot journal: setuid newuidmap refuses the owner's own range" \
	as_user "$fuid" newuidmap "$SLEEPER_PID" 0 "${first#* }" 65536
stop_sleeper "$SLEEPER_PID"
pam_service subid-crash "required $PAM_MODULE strict" "required pam_permit.so"
check "a login rolls the journal back" pamtester subid-crash "$fuser" open_session close_session
check_match "after the rollback the plugin serves the range again" "$want" "$(getsubids "$fuser" 2>&1)"
# a writer killed before it wrote the journal's header leaves one that
# SQLite ignores: so does the plugin
head -c 512 /dev/zero >"$DB-journal"
check_match "a journal whose header was never written is ignored: the plugin serves" "$want" \
	"$(getsubids "$fuser" 2>&1)"
rm -f "$DB-journal"
check "a login after the crashes allocates" pamtester subid-crash crash$NUSERS open_session close_session
check "the invariants still hold" python3 "$top_srcdir/tests/invariants.py" --db "$DB" --expect-file "$W/reported"
finish
