#!/bin/bash
# What pam_subid does to the process it is loaded into: exact return codes of
# pam_sm_open_session on a real libpam handle, and through a whole session
# no fd left open, nothing written to stdout/stderr, SIGCHLD untouched, and
# no way to exit the host (no exit/abort imported).
set -eu
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 nm
subid_require_build
PROBE=$top_builddir/tests/pam_probe
[ -x "$PROBE" ] || hard_error "$PROBE not built: run make check"
subid_enter_ns "$@"

DB=$W/state/private/subid.db
add_user alice 2001
add_user bob 2002
add_user lowuser 500
write_conf <<EOF
db_path = $DB
EOF
: >>/etc/subuid
: >>/etc/subgid

# probe [--direct MODULE] SERVICE USER [ARG...]: run it, its report in $W/probe.out
probe() {
	local rc=0
	"$PROBE" "$@" >"$W/probe.stdout" 2>"$W/probe.stderr" 3>"$W/probe.out" || rc=$?
	[ "$rc" -eq 0 ] || not_ok "pam_probe $*" "exit status $rc" "$(cat "$W/probe.stderr")"
}
field() { sed -n "s/^$1=//p" "$W/probe.out"; }

# PAM_SUCCESS 0, PAM_USER_UNKNOWN 10, PAM_SESSION_ERR 14, PAM_IGNORE 25
direct_rc() {
	local want=$1 desc=$2
	shift 2
	probe --direct "$PAM_MODULE" "$@"
	check_eq "$desc" "$want" "$(field open_session)"
}
pam_service subid-probe "required pam_permit.so"
direct_rc 0 "first login: PAM_SUCCESS" subid-probe alice
direct_rc 0 "second login: PAM_SUCCESS" subid-probe alice
direct_rc 25 "root: PAM_IGNORE" subid-probe root
direct_rc 25 "uid below uid_min: PAM_IGNORE" subid-probe lowuser
direct_rc 10 "unknown user: PAM_USER_UNKNOWN" subid-probe no-such-user
direct_rc 25 "missing conf=: PAM_IGNORE" subid-probe bob "conf=$W/missing.conf"
direct_rc 14 "missing conf= with strict: PAM_SESSION_ERR" subid-probe bob "conf=$W/missing.conf" strict
direct_rc 25 "relative conf=: PAM_IGNORE" subid-probe bob conf=subid.conf
direct_rc 25 "unknown module argument: PAM_IGNORE" subid-probe bob frobnicate
direct_rc 14 "unknown module argument with strict: PAM_SESSION_ERR" subid-probe bob frobnicate strict
log_grep "refused option=frobnicate reason=\"unknown option\"" "an unknown argument is logged"
check_eq "close_session succeeds" 0 "$(field close_session)"
check_eq "bob got nothing from refused sessions" 0 "$(db_rows "uid = 2002")"

# A whole session through the stack, first login and later ones.
pam_service subid-hygiene "optional $PAM_MODULE" "required pam_permit.so"
for who in bob bob lowuser no-such-user; do
	probe subid-hygiene "$who"
	check_eq "$who: no fd left open" 0 "$(field fds_leaked)"
	check_eq "$who: nothing written to stdout" 0 "$(field stdout_bytes)"
	check_eq "$who: nothing written to stderr" 0 "$(field stderr_bytes)"
	check_eq "$who: SIGCHLD disposition untouched" 0 "$(field sigchld_changed)"
done
check_eq "bob's session granted a range" 2 "$(db_rows "uid = 2002")"

# No code path can end the host process.
for so in "$PAM_MODULE" "$PLUGIN"; do
	check_nomatch "$(basename "$so") imports no exit/abort" \
		'^[[:space:]]*U (exit|_exit|abort|err|errx|quick_exit)(@|$)' "$(nm -D --undefined-only "$so")"
done
finish
