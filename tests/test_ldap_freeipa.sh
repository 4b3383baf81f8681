#!/bin/bash
# The FreeIPA preset (ldap_attr_map = freeipa) against a real slapd loaded
# with FreeIPA's subordinate-ID schema (LDAP_FREEIPA=1:
# conf/subid-freeipa-test.ldif), through the real PAM stack, shadow's
# getsubids and the setuid newuidmap/newgidmap.  Proves that:
#   - an entry made the FreeIPA way (ipaUniqueID=<uuid>,cn=subids,cn=accounts,
#     objectClass ipaSubordinateIdEntry + ipaSubordinateId, ipaOwner = the
#     owner's DN), sitting on the very slot the allocator would hand out
#     first, is what its owner gets at login: no grant, nothing written in
#     the directory, the range in the local replica, served by the plugin
#     (getsubids, setuid newuidmap/newgidmap), and nothing outside it is;
#   - that range, and a second FreeIPA entry two slots further, are never
#     handed out again: other directory users (some logging in at once) get
#     other slots, in entries of FreeIPA's own shape (one per owner, ipaOwner
#     = their DN), with a slot claim each, and no two ranges in the whole
#     directory overlap;
#   - an owner the replica does not know is served from the directory only
#     with ldap_lookup_on_miss = yes, and with the directory hung the plugin
#     fails closed for him within a bound while the replica still serves
#     the others;
#   - a user NSS knows but the directory does not cannot get a FreeIPA entry
#     (no owner DN): refused and logged, nothing written, and an optional
#     module line lets the login proceed;
#   - logins are idempotent: a second login grants and writes nothing.
set -eu
LDAP_FREEIPA=1
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ldap_lib.sh"

load_paths
subid_require_root
subid_require_tools unshare pamtester sqlite3 python3 getsubids newuidmap newgidmap setpriv timeout
ldap_require_tools
[ -r "$LDAP_SCHEMA_FREEIPA" ] || hard_error "$LDAP_SCHEMA_FREEIPA missing"
subid_require_build
subid_enter_ns "$@"
# shellcheck disable=SC2119 # ldap_start takes no argument of the script
ldap_start

M=2147483648
C=65536
M2=$((M + 2 * C)) # ipa2's FreeIPA slot: the allocator must skip slots 0 and 2
PEOPLE=$LDAP_PEOPLE_BASE
IPA=$LDAP_FREEIPA_BASE

# directory users, also known to NSS in the namespace
ldap_add_user ipa1 3001
ldap_add_user ipa2 3002
add_user ipa1 3001
add_user ipa2 3002
for i in 1 2 3 4 5 6; do
	ldap_add_user "fu$i" $((4000 + i))
	add_user "fu$i" $((4000 + i))
done
add_user loc1 6001 # NSS only, not in the directory
: >>/etc/subuid
: >>/etc/subgid
install -m 0600 "$LDAP_HOST_PW_FILE" "$W/host.pw"

# ---- entries made the FreeIPA way ----------------------------------------------------
# ipa_entry OWNER START: ipaUniqueID=<uuid> under cn=subids,cn=accounts, as
# FreeIPA's own tools write it, added by the directory's administrator.
# shellcheck disable=SC2317 # called through check
ipa_entry() {
	local uuid
	uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')
	ldap_as_admin ldapadd <<EOF
dn: ipaUniqueID=$uuid,$IPA
objectClass: top
objectClass: ipaSubordinateIdEntry
objectClass: ipaSubordinateId
ipaUniqueID: $uuid
ipaOwner: uid=$1,$PEOPLE
ipaSubUidNumber: $2
ipaSubUidCount: $C
ipaSubGidNumber: $2
ipaSubGidCount: $C
description: auto-assigned subid
EOF
}
check "FreeIPA schema: ipa1's entry at the pool's first slot is accepted" ipa_entry ipa1 "$M"
check "FreeIPA schema: ipa2's entry at the pool's third slot is accepted" ipa_entry ipa2 "$M2"

DB=$W/h1/private/subid.db
# host_conf ON_MISS: this host's config (the FreeIPA preset, its replica)
host_conf() {
	ldap_host_conf "$SUBID_CONF_PATH" "$DB" range_min="$M" range_count="$C" ldap_base="$IPA" \
		ldap_user_base="$PEOPLE" ldap_attr_map=freeipa ldap_timeout=2 ldap_lookup_on_miss="$1"
}
host_conf no
# the module's result becomes pamtester's exit status
pam_service subid-ipa "[success=ok default=die] $PAM_MODULE" "required pam_permit.so"
pam_service subid-ipa-opt "optional $PAM_MODULE" "required pam_permit.so"

# entry NAME: "uidstart uidcount gidstart gidcount" of the entry owned by NAME's DN
entry() {
	local out a
	out=$(ldap_search -b "$IPA" "(&(objectClass=ipaSubordinateId)(ipaOwner=uid=$1,$PEOPLE))" \
		ipaSubUidNumber ipaSubUidCount ipaSubGidNumber ipaSubGidCount)
	for a in ipaSubUidNumber ipaSubUidCount ipaSubGidNumber ipaSubGidCount; do
		printf '%s\n' "$out" | sed -n "s/^$a: //p"
	done | tr '\n' ' ' | sed 's/ $//'
}
# nentries NAME: entries (anywhere in the directory) owned by NAME's DN
nentries() {
	ldap_search "(&(objectClass=ipaSubordinateId)(ipaOwner=uid=$1,$PEOPLE))" dn | grep -c '^dn:' || true
}
# replica UID [KIND]: "start count" in the local replica (KIND 1 subuid, 2 subgid)
replica() { db_query "SELECT start || ' ' || count FROM ranges WHERE uid = $1 AND kind = ${2:-1}"; }
# dump: every entry under cn=subids,cn=accounts (ranges, claims, allocator), sorted
dump() {
	ldap_search -b "$IPA" '(objectClass=*)' '*' | python3 -c 'import sys
print("\n\n".join(sorted("\n".join(sorted(e.strip().split("\n"))) for e in sys.stdin.read().split("\n\n") if e.strip())))'
}
# getsubids_is DESC EXPECTED ARGS...: getsubids prints exactly EXPECTED
getsubids_is() {
	local desc=$1 want=$2
	shift 2
	capture timeout 30 getsubids "$@"
	check_eq "$desc" "$want" "$C_OUT"
	[ "$want" = "$C_OUT" ] || diag "getsubids exit $C_RC, stderr: $C_ERR"
}
# as_user_t UID CMD...: as_user, killed after 30 s
# shellcheck disable=SC2317 # called through check and capture
as_user_t() {
	local uid=$1
	shift
	timeout 30 setpriv --reuid="$uid" --regid="$uid" --init-groups "$@"
}
# refused DESC UID CMD...: CMD as UID exits non-zero by itself (not killed by
# the 30 s timeout)
refused() {
	local desc=$1
	shift
	capture as_user_t "$@"
	if [ "$C_RC" -ne 0 ] && [ "$C_RC" -ne 124 ]; then
		ok "$desc"
	else
		not_ok "$desc" "command: $* (exit $C_RC; 0 = accepted, 124 = did not return within 30 s)" \
			"stdout: $C_OUT" "stderr: $C_ERR"
	fi
}

# ---- 4. ipa1 logs in: his FreeIPA range, nothing written -------------------------------
before=$(dump)
check_match "the dump of cn=subids sees ipa2's FreeIPA entry" "^ipaSubUidNumber: $M2$" "$before"
log_clear
check "ipa1: login succeeds" pamtester subid-ipa ipa1 open_session close_session
log_grep_not "granted user=ipa1" "ipa1: no grant logged (the FreeIPA entry is his range)"
check_eq "ipa1: the replica holds the FreeIPA subuid range" "$M $C" "$(replica 3001)"
check_eq "ipa1: the replica holds the FreeIPA subgid range" "$M $C" "$(replica 3001 2)"
check_eq "ipa1: still one entry, unchanged" "1/$M $C $M $C" "$(nentries ipa1)/$(entry ipa1)"
check_eq "ipa1: the login wrote nothing in the directory (no entry, claim or allocator)" \
	"$before" "$(dump)"

enable_plugin
getsubids_is "getsubids ipa1: the FreeIPA subuid range" "0: ipa1 $M $C" ipa1
getsubids_is "getsubids -g ipa1: the FreeIPA subgid range" "0: ipa1 $M $C" -g ipa1
start_userns_sleeper 3001
check "setuid newuidmap as ipa1 accepts the FreeIPA range" as_user 3001 newuidmap "$SLEEPER_PID" 0 "$M" "$C"
check "setuid newgidmap as ipa1 accepts the FreeIPA range" as_user 3001 newgidmap "$SLEEPER_PID" 0 "$M" "$C"
check_eq "ipa1: the sleeper's uid_map is the FreeIPA range" "0 $M $C" "$(read_map "$SLEEPER_PID" uid)"
check_eq "ipa1: the sleeper's gid_map is the FreeIPA range" "0 $M $C" "$(read_map "$SLEEPER_PID" gid)"
stop_sleeper "$SLEEPER_PID"
start_userns_sleeper 3001
refused "setuid newuidmap as ipa1 refuses the next slot (not his)" \
	3001 newuidmap "$SLEEPER_PID" 0 $((M + C)) "$C"
refused "setuid newuidmap as ipa1 refuses one id past his range" \
	3001 newuidmap "$SLEEPER_PID" 0 "$M" $((C + 1))
refused "setuid newuidmap as ipa1 refuses ipa2's FreeIPA range" \
	3001 newuidmap "$SLEEPER_PID" 0 "$M2" "$C"
check_eq "ipa1: nothing was mapped by the refused calls" "" "$(read_map "$SLEEPER_PID" uid)"
stop_sleeper "$SLEEPER_PID"

# ---- 5. other directory users: other slots, FreeIPA-style entries ---------------------
log_clear
check "fu1: first login" pamtester subid-ipa fu1 open_session close_session
check "fu2: first login" pamtester subid-ipa fu2 open_session close_session
pids=
for i in 3 4 5 6; do
	pamtester subid-ipa "fu$i" open_session close_session >"$W/fu$i.out" 2>&1 &
	pids="$pids $!"
done
failed=0
for p in $pids; do wait "$p" || failed=$((failed + 1)); done
check_eq "fu3..fu6: 4 simultaneous first logins all succeed" 0 "$failed"
if [ "$failed" -ne 0 ]; then for i in 3 4 5 6; do diag_file "$W/fu$i.out"; done; fi
check_eq "fu1: the hole between the FreeIPA entries (slot 1)" "$((M + C)) $C" "$(replica 4001)"
check_eq "fu2: the slot after ipa2's (slot 3)" "$((M + 3 * C)) $C" "$(replica 4002)"
granted=0 same=0 one=0 shaped=0 claimed=0
for i in 1 2 3 4 5 6; do
	u=$((4000 + i)) s=$(replica $((4000 + i)) | awk '{print $1}')
	log_text | grep -q "granted user=fu$i uid=$u kind=subuid start=$s count=$C" && granted=$((granted + 1))
	[ -n "$s" ] && [ "$(entry "fu$i")" = "$s $C $s $C" ] &&
		[ "$(replica "$u" 2)" = "$s $C" ] && same=$((same + 1))
	[ "$(nentries "fu$i")" = 1 ] && one=$((one + 1))
	out=$(ldap_search -b "$IPA" "(ipaOwner=uid=fu$i,$PEOPLE)" objectClass ipaUniqueID)
	if printf '%s\n' "$out" | grep -Eq "^dn: ipaUniqueID=[^,]+,$(rx "$IPA")$" &&
		printf '%s\n' "$out" | grep -qx 'objectClass: ipaSubordinateIdEntry' &&
		printf '%s\n' "$out" | grep -qx 'objectClass: ipaSubordinateId' &&
		printf '%s\n' "$out" | grep -q '^ipaUniqueID: .'; then
		shaped=$((shaped + 1))
	else
		diag "fu$i's entry: $out"
	fi
	[ -n "$s" ] && [ "$(ldap_search -b "cn=$s,cn=allocator,$IPA" -s base dn 2>/dev/null | grep -c '^dn:')" = 1 ] &&
		claimed=$((claimed + 1))
done
check_eq "every new user's grant is logged with his replica's start" 6 "$granted"
check_eq "every new user: directory entry and replica agree (subuid = subgid start, FreeIPA's way)" 6 "$same"
check_eq "every new user has exactly one entry in the directory" 6 "$one"
check_eq "every new entry is FreeIPA-style (ipaUniqueID=...,cn=subids; ipaSubordinateIdEntry + ipaSubordinateId)" \
	6 "$shaped"
check_eq "every new user's slot is claimed under cn=allocator" 6 "$claimed"
starts=$(for i in 1 2 3 4 5 6; do replica $((4000 + i)); done | awk '{print $1}' | sort -n | tr '\n' ' ')
check_nomatch "nobody new got ipa1's or ipa2's slot (starts: $starts)" "(^| )($M|$M2)( |$)" "$starts"
# the whole directory: every range entry, no two overlapping ranges, one per owner
ldap_search '(objectClass=ipaSubordinateId)' ipaOwner ipaSubUidNumber ipaSubUidCount \
	ipaSubGidNumber ipaSubGidCount >"$W/all.ldif"
cat >"$W/overlap.py" <<'EOF'
import sys
ents, cur = [], {}
for line in open(sys.argv[1]).read().split("\n") + [""]:
    if not line:
        if cur:
            ents.append(cur)
        cur = {}
        continue
    k, _, v = line.partition(": ")
    cur[k] = v
bad = []
owners = [e.get("ipaOwner", "").lower() for e in ents]
if len(set(owners)) != len(owners):
    bad.append("an owner has more than one entry: %s" % sorted(owners))
for kind in ("Uid", "Gid"):
    r = sorted((int(e["ipaSub%sNumber" % kind]), int(e["ipaSub%sNumber" % kind]) + int(e["ipaSub%sCount" % kind]),
                e["dn"]) for e in ents)
    for a, b in zip(r, r[1:]):
        if b[0] < a[1]:
            bad.append("sub%s ranges overlap: %s and %s" % (kind.lower(), a, b))
print("%d entries" % len(ents))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF
check "the directory: no two ranges overlap, one entry per owner" python3 "$W/overlap.py" "$W/all.ldif"
check_eq "the directory: 8 range entries (2 FreeIPA, 6 new)" "8 entries" "$(head -n 1 "$T_OUT")"
check_eq "ipa1's and ipa2's FreeIPA entries are untouched" "$M $C $M $C/$M2 $C $M2 $C" \
	"$(entry ipa1)/$(entry ipa2)"
check "the replica keeps the store invariants" python3 "$top_srcdir/tests/invariants.py" --db "$DB"

# ---- 6. ipa2: FreeIPA entry, never logged in here -------------------------------------
check_eq "ipa2: nothing in the replica" "" "$(replica 3002)"
getsubids_is "lookup on miss off: getsubids ipa2 prints no range" "" ipa2
start_userns_sleeper 3002
refused "lookup on miss off: setuid newuidmap as ipa2 refuses his FreeIPA range" \
	3002 newuidmap "$SLEEPER_PID" 0 "$M2" "$C"
host_conf yes
getsubids_is "lookup on miss on: getsubids ipa2 serves the FreeIPA range from the directory" "0: ipa2 $M2 $C" ipa2
getsubids_is "lookup on miss on: getsubids -g ipa2 too" "0: ipa2 $M2 $C" -g ipa2
check "lookup on miss on: setuid newuidmap as ipa2 accepts his FreeIPA range" \
	as_user 3002 newuidmap "$SLEEPER_PID" 0 "$M2" "$C"
check_eq "ipa2: the sleeper's uid_map is his FreeIPA range" "0 $M2 $C" "$(read_map "$SLEEPER_PID" uid)"
stop_sleeper "$SLEEPER_PID"
start_userns_sleeper 3002
refused "lookup on miss on: setuid newuidmap as ipa2 still refuses ipa1's range" \
	3002 newuidmap "$SLEEPER_PID" 0 "$M" "$C"
stop_sleeper "$SLEEPER_PID"
check_eq "ipa2: the lookup wrote nothing in the replica" "" "$(replica 3002)"

ldap_pause
log_clear
start_userns_sleeper 3002
refused "directory hung: setuid newuidmap as ipa2 is refused (fails closed, returns by itself)" \
	3002 newuidmap "$SLEEPER_PID" 0 "$M2" "$C"
check_eq "directory hung: nothing was mapped for ipa2" "" "$(read_map "$SLEEPER_PID" uid)"
log_grep "ldap error uri=.* op=(bind|search) reason=" "directory hung: the plugin logs the directory's failure"
stop_sleeper "$SLEEPER_PID"
capture timeout 30 getsubids ipa2
check_true "directory hung: getsubids ipa2 returns by itself (exit $C_RC)" "$C_RC" -ne 124
check_nomatch "directory hung: getsubids ipa2 prints no range" "ipa2 [0-9]" "$C_OUT"
getsubids_is "directory hung: getsubids ipa1 is served from the replica" "0: ipa1 $M $C" ipa1
start_userns_sleeper 3001
check "directory hung: setuid newuidmap as ipa1 accepts his range (replica)" \
	as_user_t 3001 newuidmap "$SLEEPER_PID" 0 "$M" "$C"
stop_sleeper "$SLEEPER_PID"
ldap_resume

# ---- 7. NSS-only user: no owner DN, no FreeIPA entry ----------------------------------
before=$(dump)
check_match "the dump of cn=subids sees the slot claims" "^dn: cn=$((M + C)),cn=allocator,$(rx "$IPA")$" "$before"
log_clear
check_fail "loc1 (not in the directory): the module refuses" pamtester subid-ipa loc1 open_session close_session
check "loc1: the login proceeds with an optional module line" pamtester subid-ipa-opt loc1 open_session close_session
log_grep "ldap refused uid=6001 map=freeipa reason=\"the owner is not in the directory" \
	"loc1: the refusal is logged"
log_grep_not "granted user=loc1" "loc1: nothing granted"
check_eq "loc1: nothing written in the directory" "$before" "$(dump)"
check_eq "loc1: nothing in the replica" 0 "$(db_rows "uid = 6001")"

# ---- 8. second logins: idempotent --------------------------------------------------------
before=$(dump)
fu1=$(replica 4001)
log_clear
check "ipa1: second login" pamtester subid-ipa ipa1 open_session close_session
check "fu1: second login" pamtester subid-ipa fu1 open_session close_session
log_grep_not "granted user=" "second logins: no grant"
check_eq "ipa1: same range after the second login" "$M $C/$M $C" "$(replica 3001)/$(replica 3001 2)"
check_eq "fu1: same range after the second login" "$fu1/$fu1" "$(replica 4001)/$(replica 4001 2)"
check_eq "second logins wrote nothing in the directory" "$before" "$(dump)"
check_eq "replica: 7 owners (ipa1 and the 6 new users), 2 rows each" 14 "$(db_rows)"
finish
