#!/bin/bash
# store = ldap through the real PAM stack against a real slapd (a child of
# the test on a free loopback port): the first login allocates in the
# directory and in the local replica, a second host (its own config and
# replica) gets the same range, logins on two hosts at once never overlap,
# the plugin serves the replica (getsubids, setuid newuidmap), a stopped or
# paused directory does not block logins, bad credentials are refused and
# logged, and a range deleted in the directory leaves the replica.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ldap_lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap setpriv timeout
ldap_require_tools
subid_require_build
subid_enter_ns "$@"
ldap_start

M=2147483648
C=65536
add_user alice 2001
add_user bob 2002
add_user carol 2003
add_user dave 2004
for i in $(seq 1 24); do add_user "mh$i" $((5000 + i)); done
: >>/etc/subuid
: >>/etc/subgid
install -m 0600 "$LDAP_HOST_PW_FILE" "$W/host.pw"

# host_conf FILE DB [PWFILE]: a host's config (the directory, its own replica)
host_conf() {
	ldap_host_conf "$1" "$2" ldap_bind_pw_file="${3:-$W/host.pw}" ldap_timeout=2
}
H1=$W/h1/private/subid.db
H2=$W/h2/private/subid.db
host_conf "$SUBID_CONF_PATH" "$H1"
host_conf "$W/h2.conf" "$H2"
# the module's result becomes pamtester's exit status
pam_service subid-h1 "[success=ok default=die] $PAM_MODULE" "required pam_permit.so"
pam_service subid-h2 "[success=ok default=die] $PAM_MODULE conf=$W/h2.conf" "required pam_permit.so"

# entry UID: "subUidNumber subUidCount subGidNumber subGidCount" of uid's entry
entry() {
	local out a
	out=$(ldap_search -LLL "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" \
		subUidNumber subUidCount subGidNumber subGidCount)
	for a in subUidNumber subUidCount subGidNumber subGidCount; do
		printf '%s\n' "$out" | sed -n "s/^$a: //p"
	done | tr '\n' ' ' | sed 's/ $//'
}
nentries() { ldap_search -LLL "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" dn | grep -c '^dn:' || true; }
replica() { db_query "SELECT start || ' ' || count FROM ranges WHERE uid = $1 AND kind = ${3:-1}" "$2"; }

# ---- first login, second host --------------------------------------------------------
ldap_add_user alice 2001	# alice is also in the directory: her entry names her DN
check "alice: first login on host 1" pamtester subid-h1 alice open_session close_session
check_match "alice: subidRangeOwner is her DN in the directory (what SSSD matches)" \
	"^subidRangeOwner: uid=alice,$(rx "$LDAP_PEOPLE_BASE")$" \
	"$(ldap_search -LLL '(&(objectClass=subordinateIdEntry)(uidNumber=2001))' subidRangeOwner)"
check_eq "alice: one entry in the directory, subuid and subgid at the pool start" "$M $C $M $C" "$(entry 2001)"
check_eq "alice: host 1's replica holds the subuid range" "$M $C" "$(replica 2001 "$H1")"
check_eq "alice: host 1's replica holds the subgid range" "$M $C" "$(replica 2001 "$H1" 2)"
log_grep "granted user=alice uid=2001 kind=subuid start=$M count=$C"
check "alice: login on host 2" pamtester subid-h2 alice open_session close_session
check_eq "alice: host 2's replica has the same range" "$M $C" "$(replica 2001 "$H2")"
check_eq "alice: still one entry in the directory" 1 "$(nentries 2001)"
check "bob: first login on host 2" pamtester subid-h2 bob open_session close_session
check "bob: login on host 1" pamtester subid-h1 bob open_session close_session
check_match "bob: has an entry" "^dn: cn=2002," "$(ldap_search -LLL '(&(objectClass=subordinateIdEntry)(uidNumber=2002))' dn)"
check_nomatch "bob (not in the directory): no subidRangeOwner" "subidRangeOwner" \
	"$(ldap_search -LLL '(&(objectClass=subordinateIdEntry)(uidNumber=2002))' subidRangeOwner)"
check_eq "bob: the next slot, the same on both hosts" "$((M + C)) $C $((M + C)) $C" \
	"$(replica 2002 "$H1") $(replica 2002 "$H2")"

# ---- ldap_user_base unset: owners are found under the directory's suffix ------------------
# an ldap_base two levels below the suffix: its parent (ou=subid) holds no accounts
ldap_as_admin ldapadd >/dev/null <<EOF
dn: ou=deep,$LDAP_SUBID_BASE
objectClass: organizationalUnit
ou: deep
EOF
add_user erin 2005
ldap_add_user erin 2005
host_conf "$W/deep.conf" "$W/deep/private/subid.db"
sed -i "s|^ldap_base = .*|ldap_base = ou=deep,$LDAP_SUBID_BASE|" "$W/deep.conf"
# its own allocator: a pool of its own, so its ranges never meet ou=subid's
printf 'range_min = %s\n' $((M + 1024 * C)) >>"$W/deep.conf"
pam_service subid-deep "[success=ok default=die] $PAM_MODULE conf=$W/deep.conf" "required pam_permit.so"
check "erin: first login with ldap_base below ou=subid" pamtester subid-deep erin open_session close_session
check_match "erin: subidRangeOwner is her DN, found under the suffix (not under ldap_base's parent)" \
	"^subidRangeOwner: uid=erin,$(rx "$LDAP_PEOPLE_BASE")$" \
	"$(ldap_search -LLL -b "ou=deep,$LDAP_SUBID_BASE" '(uidNumber=2005)' subidRangeOwner)"

# ---- the plugin serves host 1's replica -------------------------------------------------
enable_plugin
check_eq "getsubids alice (plugin, replica)" "0: alice $M $C" "$(getsubids alice 2>&1)"
start_userns_sleeper 2001
check "setuid newuidmap accepts alice's range from the replica" as_user 2001 newuidmap "$SLEEPER_PID" 0 "$M" "$C"
stop_sleeper "$SLEEPER_PID"

# ---- two hosts at once, overlapping sets of users ---------------------------------------
pids=
for h in h1 h2; do
	for i in $(seq 1 24); do
		pamtester "subid-$h" "mh$i" open_session close_session >"$W/mh.$h.$i" 2>&1 &
		pids="$pids $!"
	done
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
check_eq "48 simultaneous logins (24 users on 2 hosts) all succeed" 0 "$failed"
same=0 one=0
for i in $(seq 1 24); do
	u=$((5000 + i))
	[ "$(replica $u "$H1")" = "$(replica $u "$H2")" ] && [ -n "$(replica $u "$H1")" ] && same=$((same + 1))
	[ "$(nentries $u)" = 1 ] && one=$((one + 1))
done
check_eq "every user has exactly one entry in the directory" 24 "$one"
check_eq "both hosts' replicas agree for every user" 24 "$same"
starts=$(ldap_search -LLL '(objectClass=subordinateIdEntry)' subUidNumber | sed -n 's/^subUidNumber: //p' | sort -n)
check_eq "no two owners share a start (ranges are aligned, so none overlap)" \
	"$(printf '%s\n' "$starts" | wc -l)" "$(printf '%s\n' "$starts" | uniq | wc -l)"
for db in "$H1" "$H2"; do
	check "replica $(basename "$(dirname "$db")") keeps the store invariants" \
		python3 "$top_srcdir/tests/invariants.py" --db "$db"
done

# ---- directory down ----------------------------------------------------------------------
ldap_pause
check "directory paused: alice (in the replica) still logs in" timeout 20 pamtester subid-h1 alice open_session close_session
check_fail "directory paused: carol (unknown to the replica) gets nothing" timeout 20 pamtester subid-h1 carol open_session close_session
log_grep "replica user=alice uid=2001 reason=\"directory unreachable" "the fallback to the replica is logged"
ldap_resume
ldap_stop
check "directory stopped: alice still logs in" pamtester subid-h1 alice open_session close_session
check_fail "directory stopped: carol gets nothing" pamtester subid-h1 carol open_session close_session
check_eq "directory stopped: getsubids still serves alice" "0: alice $M $C" "$(getsubids alice 2>&1)"
ldap_restart
check "directory back: carol gets a range" pamtester subid-h1 carol open_session close_session
check_eq "carol: one entry" 1 "$(nentries 2003)"

# ---- credentials ---------------------------------------------------------------------------
printf 'wrong-password' >"$W/wrong.pw"
chmod 0600 "$W/wrong.pw"
host_conf "$W/h3.conf" "$W/h3/private/subid.db" "$W/wrong.pw"
pam_service subid-h3 "[success=ok default=die] $PAM_MODULE conf=$W/h3.conf" "required pam_permit.so"
log_clear
check_fail "wrong bind password: dave gets nothing" pamtester subid-h3 dave open_session close_session
log_grep "ldap error uri=.* op=bind reason=\"Invalid credentials\"" "wrong bind password is logged"
pam_service subid-h3o "optional $PAM_MODULE conf=$W/h3.conf" "required pam_permit.so"
check "wrong bind password: the login itself proceeds with an optional module" \
	pamtester subid-h3o dave open_session close_session
check_eq "wrong bind password: nothing written for dave" 0 "$(nentries 2004)"
chmod 0644 "$W/host.pw"
log_clear
check_fail "password file readable by others: refused" pamtester subid-h1 dave open_session close_session
log_grep "ldap refused key=ldap_bind_pw_file path=$(rx "$W/host.pw")" "the unsafe password file is logged"
chmod 0600 "$W/host.pw"
check_eq "still nothing written for dave" 0 "$(nentries 2004)"
: >"$W/empty.pw"
chmod 0600 "$W/empty.pw"
host_conf "$W/h5.conf" "$W/h5/private/subid.db" "$W/empty.pw"
pam_service subid-h5 "[success=ok default=die] $PAM_MODULE conf=$W/h5.conf" "required pam_permit.so"
log_clear
check_fail "empty password file: refused (it would be an unauthenticated bind)" pamtester subid-h5 dave open_session close_session
log_grep "ldap refused key=ldap_bind_pw_file path=$(rx "$W/empty.pw") reason=\"empty password\"" "the empty password file is logged"
host_conf "$W/h5.conf" "$W/h5/private/subid.db" "$W/missing.pw"
log_clear
check_fail "missing password file: refused" pamtester subid-h5 dave open_session close_session
log_grep "ldap refused key=ldap_bind_pw_file path=$(rx "$W/missing.pw") reason=\"cannot open\"" "the missing password file is logged"
check_eq "nothing written for dave by either" 0 "$(nentries 2004)"

# ---- ldap_uri: a list, tried in order -----------------------------------------------------
host_conf "$W/h6.conf" "$W/h6/private/subid.db"
sed -i "s|^ldap_uri = .*|ldap_uri = ldap://127.0.0.1:$(_ldap_free_port) $LDAP_URI|" "$W/h6.conf"
pam_service subid-h6 "[success=ok default=die] $PAM_MODULE conf=$W/h6.conf" "required pam_permit.so"
check "ldap_uri: the first directory refuses connections, the second serves alice" \
	pamtester subid-h6 alice open_session close_session
check_eq "... with alice's range from the directory" "$M $C" "$(replica 2001 "$W/h6/private/subid.db")"

# ---- TLS required, directory without it -------------------------------------------------
host_conf "$W/h4.conf" "$W/h4/private/subid.db"
printf 'ldap_tls = starttls\n' >>"$W/h4.conf"
pam_service subid-h4 "optional $PAM_MODULE conf=$W/h4.conf" "required pam_permit.so"
pam_service subid-h4s "required $PAM_MODULE conf=$W/h4.conf strict" "required pam_permit.so"
log_clear
check "TLS required but the directory has none: the login proceeds" pamtester subid-h4 dave open_session close_session
check_fail "... and fails under strict" pamtester subid-h4s dave open_session close_session
log_grep "ldap refused uri=.* reason=\"TLS required \(ldap_tls = starttls\) but StartTLS failed" "the refusal is logged"
check_eq "TLS required: nothing written in the directory" 0 "$(nentries 2004)"
check_eq "TLS required: nothing written in the replica" 0 "$(db_rows "" "$W/h4/private/subid.db")"

# ---- a range deleted in the directory leaves the replica ----------------------------------
old=$(replica 2002 "$H1")
ldap_as_admin ldapdelete "cn=2002,$LDAP_SUBID_BASE"
check "bob: login after his entry was deleted" pamtester subid-h1 bob open_session close_session
new=$(replica 2002 "$H1")
check_true "bob: the replica follows the directory's new entry ($old -> $new)" "$new" != "$old"
check_eq "bob: replica and directory agree" "$(entry 2002 | awk '{print $1}') $C" "$new"
finish
