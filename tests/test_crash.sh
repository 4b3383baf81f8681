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
subid_require_tools unshare pamtester sqlite3 python3 getsubids
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

# straight after the last kill, before any writer ran again
enable_plugin
first=$(head -n 1 "$W/reported")
check_match "the plugin serves a reported allocation right after the kills" \
	"^0: crash$((${first% *} - BASE)) ${first#* } 65536$" "$(getsubids "crash$((${first% *} - BASE))" 2>&1)"

check "integrity and invariants after the kills; every reported allocation present" \
	python3 "$top_srcdir/tests/invariants.py" --db "$DB" --expect-file "$W/reported"
tail -n 1 "$T_OUT"

pam_service subid-crash "required $PAM_MODULE strict" "required pam_permit.so"
check "a login after the crashes allocates" pamtester subid-crash crash$NUSERS open_session close_session
check "the invariants still hold" python3 "$top_srcdir/tests/invariants.py" --db "$DB" --expect-file "$W/reported"
finish
