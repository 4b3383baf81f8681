#!/bin/bash
# store = ldap: directory entries are untrusted input (any host's bind DN can
# write them).  Before an entry's ranges reach the local replica (a login) or
# are served (the plugin's lookup on a replica miss) they are checked: inside
# the pool, not over a line of the local /etc/subuid or /etc/subgid, not over
# another owner's row in the replica, one entry per owner.  A refused entry
# gives its owner nothing, the login proceeds (optional, and required without
# strict), the refusal is logged with its cause, and no other owner's replica
# row is ever removed or changed.  A directory flooded with tiny entries does
# not hold a login up (the window search is bounded).
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ldap_lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap setpriv timeout
ldap_require_tools
subid_require_build
subid_enter_ns "$@"
# shellcheck disable=SC2119 # the default directory, not the script's arguments
ldap_start

M=2147483648
C=65536
POOL_MAX=$((M + 64 * C))	# a pool of 64 slots: [M, POOL_MAX)
P=$((M + 40 * C))		# a slot of the pool held by a local /etc/subuid line
H1=$W/h1/private/subid.db
N=0
for u in alice bob carol dave erin frank gina hank; do
	N=$((N + 1))
	add_user "$u" $((16000 + N))
	ldap_add_user "$u" $((16000 + N))
done
printf 'dockremap:%s:%s\n' "$P" "$C" >>/etc/subuid
printf 'dockremap:%s:%s\n' "$P" "$C" >>/etc/subgid
install -m 0600 "$LDAP_HOST_PW_FILE" "$W/host.pw"

# main_conf yes|no: this host's config (the one the plugin reads), the small pool,
# ldap_lookup_on_miss as given
main_conf() {
	ldap_host_conf "$SUBID_CONF_PATH" "$H1" range_min="$M" range_max="$POOL_MAX" ldap_timeout=2 \
		ldap_lookup_on_miss="$1"
}
main_conf yes
# [success=ok default=die]: the module's result is pamtester's exit status
pam_service subid-die "[success=ok default=die] $PAM_MODULE conf=$SUBID_CONF_PATH" "required pam_permit.so"
pam_service subid-opt "optional $PAM_MODULE conf=$SUBID_CONF_PATH" "required pam_permit.so"
pam_service subid-req "required $PAM_MODULE conf=$SUBID_CONF_PATH" "required pam_permit.so"
enable_plugin

# replica UID [KIND]: "start count" of uid's row in this host's replica
replica() { db_query "SELECT start || ' ' || count FROM ranges WHERE uid = $1 AND kind = ${2:-1}" "$H1"; }
# rows UID: every column of uid's replica rows (both kinds)
rows() { db_query "SELECT * FROM ranges WHERE uid = $1 ORDER BY kind" "$H1"; }
# entry UID [BASE]: "subUidNumber subUidCount subGidNumber subGidCount" of uid's entries
entry() {
	local out a
	out=$(ldap_search -LLL -b "${2:-$LDAP_SUBID_BASE}" "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" \
		subUidNumber subUidCount subGidNumber subGidCount)
	for a in subUidNumber subUidCount subGidNumber subGidCount; do
		printf '%s\n' "$out" | sed -n "s/^$a: //p"
	done | tr '\n' ' ' | sed 's/ $//'
}
# put_entry NAME UID USTART GSTART [RDN] [BASE]: an entry written by hand (or by
# a rogue host) with the layout subid writes, counts $C
put_entry() {
	ldap_as_admin ldapadd >/dev/null <<EOF
dn: cn=${5:-$2},${6:-$LDAP_SUBID_BASE}
objectClass: subordinateIdEntry
cn: ${5:-$2}
uidNumber: $2
uid: $1
subidRangeOwner: uid=$1,$LDAP_PEOPLE_BASE
subUidNumber: $3
subUidCount: $C
subGidNumber: $4
subGidCount: $C
EOF
}
# set_entry UID USTART GSTART: rewrite uid's entry cn=UID
set_entry() {
	ldap_as_admin ldapmodify >/dev/null <<EOF
dn: cn=$1,$LDAP_SUBID_BASE
changetype: modify
replace: subUidNumber
subUidNumber: $2
-
replace: subGidNumber
subGidNumber: $3
EOF
}
# shellcheck disable=SC2317 # shows and mapped are called through check/check_fail
# shows NAME START [-g]: getsubids prints a range starting at START (plugin)
shows() {
	local out
	out=$(getsubids ${3:+"$3"} "$1" 2>/dev/null || true)
	printf '%s\n' "$out" | grep -Eq "^[0-9]+: $1 $2 "
}
# shellcheck disable=SC2317
# mapped UID START COUNT: setuid newuidmap as UID maps START+COUNT into its namespace
mapped() {
	local rc=0
	start_userns_sleeper "$1"
	as_user "$1" newuidmap "$SLEEPER_PID" 0 "$2" "$3" >"$W/newuidmap.out" 2>&1 || rc=$?
	stop_sleeper "$SLEEPER_PID"
	return "$rc"
}
# both_logins NAME: a session through the optional and the strict-less required line
both_logins() {
	check "$1: login with an optional pam_subid line succeeds" pamtester subid-opt "$1" open_session close_session
	check "$1: login with a required pam_subid line (no strict) succeeds" \
		pamtester subid-req "$1" open_session close_session
}
# alice_intact WHEN: alice's replica rows (every column, both kinds) as after her login
alice_intact() {
	check_eq "alice's replica rows are unchanged $1" "$ALICE_ROWS" "$(rows 16001)"
}

# ---- alice: an honest allocation in the directory --------------------------------------
check "alice: first login allocates" pamtester subid-die alice open_session close_session
read -r A _ <<<"$(replica 16001) -"
[[ $A =~ ^[0-9]+$ ]] || hard_error "alice got no replica row (see test_ldap_store)"
check_eq "alice: directory entry and replica agree" "$A $C $A $C" "$(entry 16001)"
check_eq "alice: subgid row too" "$A $C" "$(replica 16001 2)"
check "alice: second login reads her own entry back (not refused)" pamtester subid-die alice open_session close_session
ALICE_ROWS=$(rows 16001)
check_true "alice: two replica rows" "$(db_rows "uid = 16001" "$H1")" = 2

# ---- 1. an entry over a line of the local /etc/subuid and /etc/subgid ---------------------
put_entry bob 16002 "$P" "$P"
log_clear
both_logins bob
check_eq "1: bob has no replica row (his entry overlaps dockremap's local line)" 0 "$(db_rows "uid = 16002" "$H1")"
log_grep "ldap refused uid=16002 .*/etc/subuid" "1: the refusal names /etc/subuid"
main_conf no
check_fail "1: getsubids bob does not show $P (replica only)" shows bob "$P"
main_conf yes
check_fail "1: getsubids bob does not show $P (lookup on a miss)" shows bob "$P"
check_fail "1: getsubids -g bob does not show $P (lookup on a miss)" shows bob "$P" -g
check_fail "1: setuid newuidmap as bob refuses $P" mapped 16002 "$P" 1
alice_intact "after case 1"

# ---- 2. an entry over another owner's replica row -----------------------------------------
check "2: getsubids alice shows A=$A before" shows alice "$A"
set_entry 16002 "$A" "$A"
log_clear
both_logins bob
log_grep "ldap refused uid=16002 .*uid 16001" "2: the refusal names bob's uid and alice's"
alice_intact "after bob's entry claimed her range"
check_eq "2: bob has no replica row" 0 "$(db_rows "uid = 16002" "$H1")"
check_eq "2: alice's directory entry is untouched" "$A $C $A $C" "$(entry 16001)"
# from the replica alone first: the lookup on a miss would hide a lost row of alice's
main_conf no
check "2: getsubids alice still shows A (replica only)" shows alice "$A"
check "2: getsubids -g alice still shows A (replica only)" shows alice "$A" -g
check_fail "2: getsubids bob does not show A (replica only)" shows bob "$A"
check "2: setuid newuidmap as alice maps A (replica only)" mapped 16001 "$A" "$C"
check_fail "2: setuid newuidmap as bob refuses A (replica only)" mapped 16002 "$A" 1
main_conf yes
check "2: getsubids alice still shows A (lookup on a miss)" shows alice "$A"
check_fail "2: getsubids bob does not show A (lookup on a miss)" shows bob "$A"
check_fail "2: setuid newuidmap as bob refuses A (lookup on a miss)" mapped 16002 "$A" 1

# 2b. only the subgid range is another owner's
set_entry 16002 "$((M + 30 * C))" "$A"
log_clear
both_logins bob
log_grep "ldap refused uid=16002 .*uid 16001" "2b: a subgid-only clash is refused, naming alice's uid"
check_eq "2b: bob has no replica row" 0 "$(db_rows "uid = 16002" "$H1")"
alice_intact "after bob's entry claimed her subgid range"
check_fail "2b: getsubids -g bob does not show A" shows bob "$A" -g

# ---- 3. two entries for one owner -------------------------------------------------------
put_entry carol 16003 "$((M + 10 * C))" "$((M + 10 * C))"
put_entry carol 16003 "$((M + 11 * C))" "$((M + 11 * C))" 16003-b
log_clear
both_logins carol
log_grep "ldap refused uid=16003 .*two entries" "3: the refusal says the owner has two entries"
check_eq "3: carol has no replica row" 0 "$(db_rows "uid = 16003" "$H1")"
check_fail "3: getsubids carol shows neither entry's range (lookup on a miss)" \
	shows carol "($((M + 10 * C))|$((M + 11 * C)))"
alice_intact "after case 3"

# ---- 4. outside the pool ------------------------------------------------------------------
put_entry dave 16004 "$((POOL_MAX + C))" "$((POOL_MAX + C))"
log_clear
both_logins dave
log_grep "ldap refused uid=16004 .*pool" "4: the refusal names the pool"
check_eq "4: dave has no replica row" 0 "$(db_rows "uid = 16004" "$H1")"
check_fail "4: getsubids dave does not show it (lookup on a miss)" shows dave "$((POOL_MAX + C))"
# 4b. straddling the pool's start
put_entry hank 16008 "$((M - C / 2))" "$((M - C / 2))"
log_clear
both_logins hank
log_grep "ldap refused uid=16008 .*pool" "4b: an entry straddling range_min is refused, naming the pool"
check_eq "4b: hank has no replica row" 0 "$(db_rows "uid = 16008" "$H1")"
alice_intact "after case 4"

# ---- 5. the plugin's lookup on a replica miss ---------------------------------------------
put_entry erin 16005 "$A" "$A"
log_clear
check_fail "5: getsubids erin (never logged in) does not show alice's A" shows erin "$A"
check_fail "5: getsubids -g erin does not show A" shows erin "$A" -g
check_fail "5: setuid newuidmap as erin refuses A" mapped 16005 "$A" 1
log_grep "ldap refused uid=16005 .*uid 16001" "5: the plugin's refusal names erin's uid and alice's"
check_eq "5: the plugin wrote nothing for erin" 0 "$(db_rows "uid = 16005" "$H1")"
FR=$((M + 20 * C))
put_entry frank 16006 "$FR" "$FR"
check_eq "5: getsubids frank (honest entry, never logged in) shows it" "0: frank $FR $C" "$(getsubids frank 2>&1)"
check "5: setuid newuidmap as frank maps it" mapped 16006 "$FR" "$C"
alice_intact "after case 5"

# ---- 6. a directory flooded with tiny entries: the window search is bounded ---------------
F=$((M + 1024 * C))	# a pool of its own, under its own base (its own allocator)
FB=ou=flood,$LDAP_SUBID_BASE
ldap_as_admin ldapadd >/dev/null <<EOF
dn: $FB
objectClass: organizationalUnit
ou: flood
EOF
NFLOOD=3000
: >"$W/flood.starts"
for ((i = 0; i < NFLOOD; i++)); do
	s=$((F + i * 256 * C / NFLOOD))
	printf '%s\n' "$s" >>"$W/flood.starts"
	printf 'dn: cn=flood-%s,%s\nobjectClass: subordinateIdEntry\ncn: flood-%s\nuidNumber: %s\n' \
		"$i" "$FB" "$i" $((7000000 + i))
	printf 'subUidNumber: %s\nsubUidCount: 1\nsubGidNumber: %s\nsubGidCount: 1\n\n' "$s" "$s"
done >"$W/flood.ldif"
t0=$(now_ms)
_out
ldap_as_admin ldapadd -f "$W/flood.ldif" >"$T_OUT" 2>&1 || { diag_file "$T_OUT"; hard_error "loading the flood failed"; }
diag "$NFLOOD flood entries loaded in $(($(now_ms) - t0)) ms"
ldap_host_conf "$W/flood.conf" "$H1" ldap_base="$FB" range_min="$F" range_max="$((F + 512 * C))" ldap_timeout=10
pam_service subid-flood "optional $PAM_MODULE conf=$W/flood.conf" "required pam_permit.so"
log_clear
t0=$(now_ms)
rc=0
timeout 30 pamtester subid-flood gina open_session close_session >"$W/gina.out" 2>&1 || rc=$?
dt=$(($(now_ms) - t0))
diag "gina's login took $dt ms (exit $rc)"
check_eq "6: gina's login returns, exit 0, within 30 s" 0 "$rc"
gr=$(replica 16007)
ge=$(entry 16007 "$FB")
if [ -n "$gr" ]; then
	read -r gs gc <<<"$gr"
	hits=$(awk -v s="$gs" -v e="$((gs + gc))" '$1 >= s && $1 < e' "$W/flood.starts" | wc -l)
	check_eq "6: gina granted $gr: returned, and no overlap with the flood ($hits flood entries inside)" 0 "$hits"
	check_eq "6: gina's directory entry is the replica's range" "$gr $gr" "$ge"
	check_true "6: gina's range is inside the flood pool" "$((gs >= F && gs + gc <= F + 512 * C))" = 1
else
	check_match "6: gina refused: returned, and no overlap (a size limit is logged)" \
		'ldap .*([Ss]ize ?limit|SIZELIMIT)' "$(log_text)"
	check_eq "6: gina refused: no entry written for her" "" "$ge"
fi

# ---- the replica ----------------------------------------------------------------------------
check "the replica keeps the store invariants" python3 "$top_srcdir/tests/invariants.py" --db "$H1" --any-pool
finish
