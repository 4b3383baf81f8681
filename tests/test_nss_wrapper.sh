#!/bin/bash
# A directory-style user that exists only through NSS (nss_wrapper, not in
# /etc/passwd) gets ranges at login through the real libpam as root, and the
# libsubid plugin serves them through shadow's loader.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

load_paths
subid_require_root
subid_require_tools unshare mount pamtester getsubids setpriv ldconfig python3 sqlite3 getent libnss_wrapper.so
subid_require_build
subid_enter_ns "$@"

DB=$W/state/private/subid.db
write_conf <<EOF
# subid test configuration: default pool
store = local
db_path = $DB
files = yes
EOF

# The "directory": passwd/group files only nss_wrapper reads.
mkdir -p "$W/nss"
cp /etc/passwd "$W/nss/passwd"
cp /etc/group "$W/nss/group"
echo 'dave:x:3001:3001:directory user:/nonexistent:/bin/sh' >>"$W/nss/passwd"
echo 'dave:x:3001:' >>"$W/nss/group"
chmod 0644 "$W/nss/passwd" "$W/nss/group"
NSSW=(env LD_PRELOAD="${LD_PRELOAD:+$LD_PRELOAD:}libnss_wrapper.so" NSS_WRAPPER_PASSWD="$W/nss/passwd" NSS_WRAPPER_GROUP="$W/nss/group")

pam_service subid-test "required $PAM_MODULE" "required pam_permit.so"
MSG_UNKNOWN="User not known to the underlying authentication module"

check_fail "control: dave is not in /etc/passwd (getent without nss_wrapper)" getent passwd dave
check "nss_wrapper resolves dave" "${NSSW[@]}" getent passwd dave
check_match "nss_wrapper: dave has uid 3001" '^dave:x:3001:' "$(cat "$T_OUT")"

check_fail "control: without nss_wrapper the required module fails for dave" pamtester subid-test dave open_session
check_match "control: ... with PAM_USER_UNKNOWN" "$(rx "$MSG_UNKNOWN")" "$(cat "$T_OUT")"
check_eq "control: nothing stored for uid 3001" 0 "$(db_rows "uid = 3001")"

log_clear
check "dave: login through nss_wrapper succeeds" "${NSSW[@]}" pamtester subid-test dave open_session close_session
check_eq "dave: one subuid and one subgid row" "1 2" "$(db_query "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM ranges WHERE uid = 3001 ORDER BY kind);")"
read -r D_START D_COUNT _ <<<"$(db_query "SELECT start, count FROM ranges WHERE uid = 3001 AND kind = 1;") - - -"
check_eq "dave: subgid range equals subuid range" "$D_START $D_COUNT" "$(db_query "SELECT start, count FROM ranges WHERE uid = 3001 AND kind = 2;")"
check_eq "dave: default range_count" 65536 "$D_COUNT"
check_eq "dave: name kept in the store" dave "$(db_query "SELECT DISTINCT name FROM ranges WHERE uid = 3001;")"
log_grep "granted user=dave uid=3001 kind=subuid start=$D_START count=65536( |\$)" "dave: subuid grant logged"
log_grep "granted user=dave uid=3001 kind=subgid start=$D_START count=65536( |\$)" "dave: subgid grant logged"

log_clear
check "dave: second login succeeds" "${NSSW[@]}" pamtester subid-test dave open_session close_session
check_eq "dave: still two rows" 2 "$(db_rows "uid = 3001")"
log_grep_not "granted user=dave" "dave: second login grants nothing"

enable_plugin
capture "${NSSW[@]}" getsubids dave
check_eq "getsubids dave (nss_wrapper) serves the range" "0: dave $D_START 65536" "$C_OUT"
check_nomatch "getsubids dave: plugin loaded (no fallback to files)" 'Using files|Error opening|did not provide' "$C_ERR"
capture "${NSSW[@]}" getsubids -g dave
check_eq "getsubids -g dave (nss_wrapper)" "0: dave $D_START 65536" "$C_OUT"
capture "${NSSW[@]}" getsubids 3001
check_eq "getsubids 3001 (nss_wrapper)" "0: 3001 $D_START 65536" "$C_OUT"
capture setpriv --reuid=3001 --regid=3001 --clear-groups "${NSSW[@]}" getsubids dave
check_eq "as uid 3001: getsubids dave (nss_wrapper)" "0: dave $D_START 65536" "$C_OUT"
capture getsubids dave
check_eq "control: without nss_wrapper dave is unknown to the plugin" "" "$C_OUT"
check_true "control: ... and getsubids fails" "$C_RC" -ne 0

finish
