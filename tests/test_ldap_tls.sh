#!/bin/bash
# store = ldap over TLS against a real slapd with a certificate signed by a
# CA made for the run: ldap_tls = starttls and ldaps with ldap_ca_file naming
# that CA allocate (logins, and the plugin's lookup on a miss); a client
# that cannot verify the server (no ldap_ca_file, so only the system's CAs,
# or another CA) refuses it: the login proceeds without a range, nothing is
# written, and the log says why.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ldap_lib.sh"

LDAP_TLS=1
load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids
ldap_require_tools
subid_require_build
subid_enter_ns "$@"
ldap_start

M=2147483648
C=65536
for i in 1 2 3 4 5; do add_user "t$i" $((7000 + i)); done
: >>/etc/subuid
: >>/etc/subgid
install -m 0600 "$LDAP_HOST_PW_FILE" "$W/host.pw"

# tls_conf FILE DB URI TLS [CA]: a host talking TLS to the directory
tls_conf() { ldap_host_conf "$1" "$2" ldap_uri="$3" ldap_tls="$4" ldap_ca_file="${5:-}"; }
nentries() { ldap_search -LLL "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" dn | grep -c '^dn:' || true; }
replica() { db_query "SELECT start || ' ' || count FROM ranges WHERE uid = $1 AND kind = 1" "$2"; }
# login NAME CONF: the module's result is pamtester's exit status
login() {
	pam_service subid-tls "[success=ok default=die] $PAM_MODULE conf=$2" "required pam_permit.so"
	pamtester subid-tls "$1" open_session close_session
}

# ---- verified: StartTLS and ldaps -----------------------------------------------------------
tls_conf "$W/starttls.conf" "$W/h1/private/subid.db" "$LDAP_URI" starttls "$LDAP_TLS_CA"
check "starttls with the directory's CA: t1 logs in" login t1 "$W/starttls.conf"
check_eq "... and has one entry in the directory" 1 "$(nentries 7001)"
check_eq "... and the range in the replica" "$M $C" "$(replica 7001 "$W/h1/private/subid.db")"
tls_conf "$W/ldaps.conf" "$W/h2/private/subid.db" "$LDAP_LDAPS_URI" ldaps "$LDAP_TLS_CA"
check "ldaps with the directory's CA: t2 logs in" login t2 "$W/ldaps.conf"
check_eq "... and has the next slot" "$((M + C)) $C" "$(replica 7002 "$W/h2/private/subid.db")"
check "ldaps: t1 on a second host gets the same range" login t1 "$W/ldaps.conf"
check_eq "... in that host's replica" "$M $C" "$(replica 7001 "$W/h2/private/subid.db")"

# the plugin's lookup on a miss, over TLS: host 1's replica never saw t2
tls_conf "$SUBID_CONF_PATH" "$W/h1/private/subid.db" "$LDAP_URI" starttls "$LDAP_TLS_CA"
printf 'ldap_lookup_on_miss = yes\n' >>"$SUBID_CONF_PATH"
enable_plugin
check_eq "starttls: the plugin asks the directory about t2" "0: t2 $((M + C)) $C" "$(getsubids t2 2>&1)"

# ---- not verified: refused, nothing written ------------------------------------------------
# no ldap_ca_file: only the system's CAs, which do not know the directory's
tls_conf "$W/nocafile.conf" "$W/h3/private/subid.db" "$LDAP_URI" starttls
log_clear
check_fail "starttls without the directory's CA: t3 gets nothing" login t3 "$W/nocafile.conf"
log_grep "ldap refused uri=.* reason=\"TLS required \(ldap_tls = starttls\) but StartTLS failed" \
	"... the failed verification is logged"
tls_conf "$W/otherca.conf" "$W/h3/private/subid.db" "$LDAP_LDAPS_URI" ldaps "$LDAP_TLS_OTHER_CA"
log_clear
check_fail "ldaps with a CA that did not sign the server: t3 gets nothing" login t3 "$W/otherca.conf"
log_grep "ldap error uri=.* op=bind" "... the failed connection is logged"
pam_service subid-tls-opt "optional $PAM_MODULE conf=$W/otherca.conf" "required pam_permit.so"
check "... the login itself proceeds with an optional module" pamtester subid-tls-opt t3 open_session close_session
tls_conf "$W/badca.conf" "$W/h3/private/subid.db" "$LDAP_URI" starttls "$W/no-such-ca.pem"
log_clear
check_fail "starttls with a CA file that does not exist: t3 gets nothing" login t3 "$W/badca.conf"
log_grep "ldap refused uri=.* key=ldap_ca_file path=$(rx "$W/no-such-ca.pem") reason=\"cannot set up TLS" \
	"... and the log names the CA file"
check_eq "nothing written for t3 in the directory" 0 "$(nentries 7003)"
check_eq "nothing written in that host's replica" 0 "$(db_rows "" "$W/h3/private/subid.db")"
tls_conf "$SUBID_CONF_PATH" "$W/h3/private/subid.db" "$LDAP_LDAPS_URI" ldaps "$LDAP_TLS_OTHER_CA"
printf 'ldap_lookup_on_miss = yes\n' >>"$SUBID_CONF_PATH"
check_eq "the plugin does not take t1's range from a server it cannot verify" "" "$(getsubids t1 2>/dev/null || true)"
finish
