#!/bin/bash
# The LDAP schema shipped in conf/ (subid.schema, subid.ldif, and the FreeIPA
# test fixture) in a real slapd 2.5 started by tests/ldap_lib.sh on a free
# loopback port, as a child of this test: definitions, integer syntax and
# ordering, one entry per owner, the allocator's compare-and-swap (delete +
# add, and the assertion control), the ACLs (host writes, anyone reads), and
# the harness itself (stop, kill, pause, resume, restart).  No root needed:
# slapd runs as the caller.
set -eu
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/ldap_lib.sh
. "$(dirname "$0")/ldap_lib.sh"

ldap_require_tools
subid_require_tools timeout
SLAPTEST=$(_ldap_tool slaptest)
[ -x "$SLAPTEST" ] || skip_or_error "missing slaptest (package slapd)"
ldap_make_w

ARC=2.25.309845397798646935347423609262405934983
RSTART=2147483648 # 2^31, the default pool's first start
RCOUNT=65536

# ---- the two schema files define the same things ---------------------------------------
capture python3 - "$top_srcdir/conf/subid.schema" "$top_srcdir/conf/subid.ldif" <<'EOF'
import re, sys
def norm(d):
    d = re.sub(r"\s+", " ", d).strip()
    return d.replace("( ", "(").replace(" )", ")")
def from_schema(path):
    out, cur = [], None
    for line in open(path):
        if line.startswith("#"):
            continue
        if line[:1] in (" ", "\t") and cur is not None:
            cur[1].append(line)
            continue
        m = re.match(r"(attributetype|objectclass)\s+(.*)", line, re.I)
        cur = None
        if m:
            cur = (m.group(1).lower(), [m.group(2)])
            out.append(cur)
    return sorted(("attributetypes" if k == "attributetype" else "objectclasses", norm(" ".join(v))) for k, v in out)
def from_ldif(path):
    text = "".join(l for l in open(path) if not l.startswith("#"))
    text = text.replace("\n ", "")
    out = []
    for line in text.splitlines():
        m = re.match(r"olc(AttributeTypes|ObjectClasses):\s*(.*)", line, re.I)
        if m:
            out.append((m.group(1).lower(), norm(m.group(2))))
    return sorted(out)
a, b = from_schema(sys.argv[1]), from_ldif(sys.argv[2])
for x in a:
    print("schema", *x)
if a != b:
    for x in sorted(set(a) ^ set(b)):
        print("DIFF", *x)
    sys.exit(1)
EOF
check_eq "subid.schema and subid.ldif have identical definitions" 0 "$C_RC"
[ "$C_RC" -eq 0 ] || printf '%s\n' "$C_OUT" | grep '^DIFF' | sed 's/^/#   | /'
check_eq "... 6 attribute types and 2 object classes" "6 2" \
	"$(printf '%s\n' "$C_OUT" | grep -c '^schema attributetypes') $(printf '%s\n' "$C_OUT" | grep -c '^schema objectclasses')"
check_eq "every definition is in our OID arc $ARC" "" \
	"$(printf '%s\n' "$C_OUT" | grep '^schema' | grep -Ev "^schema [a-z]+ \\($(rx "$ARC")\\.")"

# slapd.conf format: subid.schema loads after core, cosine and nis.
mkdir -p "$W/slaptest-db"
cat >"$W/slaptest.conf" <<EOF
include $LDAP_SCHEMA_DIR/core.schema
include $LDAP_SCHEMA_DIR/cosine.schema
include $LDAP_SCHEMA_DIR/nis.schema
include $top_srcdir/conf/subid.schema
modulepath $LDAP_MODULE_DIR
moduleload back_mdb
database mdb
suffix "$LDAP_BASE"
directory $W/slaptest-db
EOF
check "subid.schema loads in slapd.conf format (slaptest -u, core cosine nis)" \
	env -u LD_PRELOAD "$SLAPTEST" -u -f "$W/slaptest.conf"

# ---- slapd with our schema ---------------------------------------------------------------
T0=$(now_ms)
ldap_start
T1=$(now_ms)
diag "slapd pid $LDAP_PID on $LDAP_URI, started and loaded in $((T1 - T0)) ms"
check "slapd answers on $LDAP_URI" ldap_search -s base dn
check "ldap_running while it runs" ldap_running
check "slapd answers on ldapi (anonymous)" \
	ldapsearch -x -H "$LDAP_LDAPI_URI" -b "$LDAP_BASE" -s base dn
capture env LDAPNOINIT=1 ldapsearch -LLL -Q -Y EXTERNAL -H "$LDAP_LDAPI_URI" \
	-b cn=schema,cn=config -s one cn
check_match "cn=config (SASL EXTERNAL over ldapi) lists the subid schema" '^cn: \{4\}subid$' "$C_OUT"
check_nomatch "... and not the FreeIPA fixture (LDAP_FREEIPA unset)" 'freeipa' "$C_OUT"

capture ldap_search -b cn=Subschema -s base attributeTypes objectClasses
SCHEMA=$C_OUT
check_match "subschema: subUidNumber is INTEGER, integerMatch, integerOrderingMatch, single-valued" \
	"^attributeTypes: \\( $(rx "$ARC").1.1 NAME 'subUidNumber' .*EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE" "$SCHEMA"
for a in subUidCount subGidNumber subGidCount subidNextStart; do
	check_match "subschema: $a is INTEGER with ordering, single-valued" \
		"^attributeTypes: \\( $(rx "$ARC")\\.1\\.[0-9]+ NAME '$a' .*EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE" "$SCHEMA"
done
check_match "subschema: subidRangeOwner is a single-valued DN" \
	"^attributeTypes: \\( $(rx "$ARC").1.5 NAME 'subidRangeOwner' .*EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE" "$SCHEMA"
check_match "subschema: subordinateIdEntry (structural, MUST/MAY as specified)" \
	"^objectClasses: \\( $(rx "$ARC").2.1 NAME 'subordinateIdEntry' .*STRUCTURAL MUST \\( cn \\$ uidNumber \\$ subUidNumber \\$ subUidCount \\$ subGidNumber \\$ subGidCount \\) MAY \\( subidRangeOwner \\$ uid \\$ description \\)" "$SCHEMA"
check_match "subschema: subidAllocator (structural, MUST cn \$ subidNextStart)" \
	"^objectClasses: \\( $(rx "$ARC").2.2 NAME 'subidAllocator' .*STRUCTURAL MUST \\( cn \\$ subidNextStart \\) MAY description" "$SCHEMA"
check_match "subschema: uidNumber is the standard RFC 2307 one (not redefined)" \
	"^attributeTypes: \\( 1.3.6.1.1.1.1.0 NAME 'uidNumber'" "$SCHEMA"

# ---- users and one entry per owner ------------------------------------------------------
ldap_add_user alice 3001
ldap_add_user bob 3002
ldap_add_users user 5000 300
capture ldap_search -b "$LDAP_PEOPLE_BASE" '(&(objectClass=posixAccount)(uidNumber>=5000))' dn
check_eq "ldap_add_users: 300 users in one go" 300 "$(printf '%s\n' "$C_OUT" | grep -c '^dn: uid=user5')"
capture ldap_search -b "$LDAP_GROUP_BASE" '(cn=user5299)' gidNumber
check_match "... the last one with its group" '^gidNumber: 5299$' "$C_OUT"
capture ldap_search -b "$LDAP_PEOPLE_BASE" '(uid=alice)' uidNumber gidNumber objectClass
check_match "ldap_add_user: alice is a posixAccount with uidNumber 3001" '^uidNumber: 3001$' "$C_OUT"
check_match "ldap_add_user: ... and an inetOrgPerson" '^objectClass: inetOrgPerson$' "$C_OUT"
capture ldap_search -b "$LDAP_GROUP_BASE" '(cn=alice)' gidNumber
check_match "ldap_add_user: alice's group has gidNumber 3001" '^gidNumber: 3001$' "$C_OUT"

ALICE_DN=uid=alice,$LDAP_PEOPLE_BASE
ALICE_SUB=cn=3001,$LDAP_SUBID_BASE
entry() { # CN UIDNUMBER START [OWNER-DN]: an LDIF subordinateIdEntry
	printf 'dn: cn=%s,%s\nobjectClass: subordinateIdEntry\ncn: %s\nuidNumber: %s\n' "$1" "$LDAP_SUBID_BASE" "$1" "$2"
	printf 'subUidNumber: %s\nsubUidCount: %s\nsubGidNumber: %s\nsubGidCount: %s\n' "$3" "$RCOUNT" "$3" "$RCOUNT"
	if [ -n "${4:-}" ]; then printf 'subidRangeOwner: %s\n' "$4"; fi
}
capture ldap_as_host ldapadd <<EOF
$(entry 3001 3001 "$RSTART" "$ALICE_DN")
uid: alice
description: subid range of alice
EOF
check_eq "host adds a subordinateIdEntry with every attribute (rc 0)" 0 "$C_RC"
[ "$C_RC" -eq 0 ] || diag "$C_ERR"
capture ldap_search -b "$ALICE_SUB" -s base
check_eq "... and reads it back" "dn: $ALICE_SUB
objectClass: subordinateIdEntry
cn: 3001
uidNumber: 3001
subUidNumber: $RSTART
subUidCount: $RCOUNT
subGidNumber: $RSTART
subGidCount: $RCOUNT
subidRangeOwner: $ALICE_DN
uid: alice
description: subid range of alice" "$C_OUT"

capture ldap_as_host ldapadd <<EOF
$(entry 3001 3001 $((RSTART + RCOUNT)))
EOF
check_eq "second ADD for the same owner (RDN cn=<uidNumber>) fails: entryAlreadyExists (68)" 68 "$C_RC"
capture ldap_search -b "$ALICE_SUB" -s base subUidNumber
check_match "... and the first entry is unchanged" "^subUidNumber: $RSTART\$" "$C_OUT"

capture ldap_as_host ldapadd <<EOF
$(entry 3009 3009 "$RSTART" | sed 's/^subUidNumber: .*/subUidNumber: 2147483648a/')
EOF
check_eq "non-integer subUidNumber rejected: invalidAttributeSyntax (21)" 21 "$C_RC"
capture ldap_as_host ldapadd <<EOF
$(entry 3009 3009 "$RSTART" | sed 's/^subGidCount: .*/subGidCount: lots/')
EOF
check_eq "non-integer subGidCount rejected (21)" 21 "$C_RC"
capture ldap_as_host ldapadd <<EOF
$(entry 3009 3009 "$RSTART" | grep -v '^subGidCount:')
EOF
check_eq "entry without subGidCount (a MUST) rejected: objectClassViolation (65)" 65 "$C_RC"
capture ldap_as_host ldapadd <<EOF
$(entry 3009 3009 "$RSTART" | grep -v '^uidNumber:')
EOF
check_eq "entry without uidNumber (a MUST) rejected (65)" 65 "$C_RC"
capture ldap_as_host ldapmodify <<EOF
dn: $ALICE_SUB
changetype: modify
add: subUidNumber
subUidNumber: $((RSTART + RCOUNT))
EOF
check_eq "a second subUidNumber value rejected (SINGLE-VALUE): constraintViolation (19)" 19 "$C_RC"
capture ldap_as_host ldapmodify <<EOF
dn: $ALICE_SUB
changetype: modify
add: subidRangeOwner
subidRangeOwner: uid=bob,$LDAP_PEOPLE_BASE
EOF
check_eq "a second subidRangeOwner rejected (SINGLE-VALUE, 19)" 19 "$C_RC"

BOB_START=$((RSTART + RCOUNT))
capture ldap_as_host ldapadd <<EOF
$(entry 3002 3002 "$BOB_START" "uid=bob,$LDAP_PEOPLE_BASE")
EOF
check_eq "host adds bob's entry (rc 0)" 0 "$C_RC"

# ---- searches the store will make ------------------------------------------------------
names() { printf '%s\n' "$1" | sed -n 's/^cn: //p' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }
capture ldap_search -b "$LDAP_SUBID_BASE" "(subUidNumber>=$RSTART)" cn
check_eq "ordering: (subUidNumber>=2^31) finds both entries" "3001 3002" "$(names "$C_OUT")"
capture ldap_search -b "$LDAP_SUBID_BASE" "(subUidNumber>=$BOB_START)" cn
check_eq "ordering: (subUidNumber>=2^31+65536) finds bob's only" "3002" "$(names "$C_OUT")"
capture ldap_search -b "$LDAP_SUBID_BASE" "(&(objectClass=subordinateIdEntry)(subGidNumber<=$((BOB_START - 1))))" cn
check_eq "ordering: (subGidNumber<=2^31+65535) finds alice's only" "3001" "$(names "$C_OUT")"
capture ldap_search -b "$LDAP_SUBID_BASE" "(subUidNumber<=$((RSTART - 1)))" cn
check_eq "ordering: (subUidNumber<=2^31-1) finds none" "" "$(names "$C_OUT")"
capture ldap_search -b "$LDAP_SUBID_BASE" "(subUidNumber>=4294967296)" cn
check_eq "ordering: (subUidNumber>=2^32) finds none (no 32-bit wrap)" "" "$(names "$C_OUT")"
capture ldap_search -b "$LDAP_SUBID_BASE" "(&(objectClass=subordinateIdEntry)(uidNumber=3002))" cn
check_eq "equality: owner by uidNumber" "3002" "$(names "$C_OUT")"
capture ldap_search -b "$LDAP_SUBID_BASE" "(subidRangeOwner=UID=Alice, ou=People,DC=example,dc=test)" cn
check_eq "equality: subidRangeOwner matches the owner's DN however spelled" "3001" "$(names "$C_OUT")"

# ---- the allocator entry: compare-and-swap ------------------------------------------------
ALLOC=cn=allocator,$LDAP_SUBID_BASE
next_start() { ldap_search -b "$ALLOC" -s base subidNextStart | sed -n 's/^subidNextStart: //p'; }
capture ldap_as_host ldapadd <<EOF
dn: $ALLOC
objectClass: subidAllocator
cn: allocator
subidNextStart: $RSTART
description: next start handed out by subid
EOF
check_eq "host creates the allocator entry (subidNextStart: 2^31)" 0 "$C_RC"
capture ldap_as_host ldapadd <<EOF
dn: $ALLOC
objectClass: subidAllocator
cn: allocator
subidNextStart: $RSTART
EOF
check_eq "a second allocator entry: 68" 68 "$C_RC"
capture ldap_as_host ldapadd <<EOF
dn: cn=allocator2,$LDAP_SUBID_BASE
objectClass: subidAllocator
cn: allocator2
subidNextStart: next
EOF
check_eq "non-integer subidNextStart rejected (21)" 21 "$C_RC"

cas() { # OLD NEW: delete the old value and add the new one in one modify
	ldap_as_host ldapmodify <<EOF
dn: $ALLOC
changetype: modify
delete: subidNextStart
subidNextStart: $1
-
add: subidNextStart
subidNextStart: $2
EOF
}
capture cas "$RSTART" $((RSTART + RCOUNT))
check_eq "CAS 2^31 -> 2^31+65536 (delete old + add new in one modify): rc 0" 0 "$C_RC"
check_eq "... subidNextStart advanced" $((RSTART + RCOUNT)) "$(next_start)"
capture cas "$RSTART" $((RSTART + 2 * RCOUNT))
check_eq "stale CAS (old value gone): noSuchAttribute (16)" 16 "$C_RC"
check_eq "... subidNextStart unchanged (the add half did not happen)" $((RSTART + RCOUNT)) "$(next_start)"

# shellcheck disable=SC2317 # called through capture
assert_cas() { # OLD NEW: replace under the RFC 4528 assertion control
	ldap_as_host ldapmodify -e "assert=(subidNextStart=$1)" <<EOF
dn: $ALLOC
changetype: modify
replace: subidNextStart
subidNextStart: $2
EOF
}
capture assert_cas $((RSTART + RCOUNT)) $((RSTART + 2 * RCOUNT))
check_eq "assertion-control CAS (assert=(subidNextStart=OLD), replace): rc 0" 0 "$C_RC"
check_eq "... subidNextStart advanced" $((RSTART + 2 * RCOUNT)) "$(next_start)"
capture assert_cas $((RSTART + RCOUNT)) $((RSTART + 3 * RCOUNT))
check_eq "stale assertion: assertionFailed (122)" 122 "$C_RC"
check_eq "... subidNextStart unchanged" $((RSTART + 2 * RCOUNT)) "$(next_start)"

# Eight hosts race the same CAS: exactly one wins, the others get 16.
OLD=$((RSTART + 2 * RCOUNT))
RACE_PIDS=
for i in 1 2 3 4 5 6 7 8; do
	(
		rc=0
		cas "$OLD" $((OLD + i * RCOUNT)) >/dev/null 2>&1 || rc=$?
		echo "$rc" >"$W/race.$i"
	) &
	RACE_PIDS="$RACE_PIDS $!"
done
for p in $RACE_PIDS; do wait "$p" || true; done
RACE=$(cat "$W"/race.* | LC_ALL=C sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ' | sed 's/ $//')
check_eq "8 concurrent CAS from the same old value: one rc 0, seven rc 16" "0x1 16x7" "$RACE"
NOW=$(next_start)
check_true "... subidNextStart holds the winner's value ($NOW)" "$(((NOW - OLD) % RCOUNT))" -eq 0 -a "$NOW" -gt "$OLD" -a "$NOW" -le $((OLD + 8 * RCOUNT))

# ---- ACLs: the host writes under ou=subid, anyone reads, nobody else writes ---------------------
capture ldap_as_anon ldapsearch -LLL -b "$ALICE_SUB" -s base subUidNumber
check_match "anonymous reads a subordinateIdEntry" "^subUidNumber: $RSTART\$" "$C_OUT"
# slapd refuses anonymous updates before looking at the ACLs: rc 8.
capture ldap_as_anon ldapadd <<EOF
$(entry 3005 3005 $((RSTART + 5 * RCOUNT)))
EOF
check_eq "anonymous ADD under ou=subid refused: strongAuthRequired (8)" 8 "$C_RC"
capture ldap_as_anon ldapmodify <<EOF
dn: $ALICE_SUB
changetype: modify
replace: subUidCount
subUidCount: 1
EOF
check_eq "anonymous MODIFY of a subordinateIdEntry refused (8)" 8 "$C_RC"
capture ldap_as_anon ldapdelete "$ALICE_SUB"
check_eq "anonymous DELETE of a subordinateIdEntry refused (8)" 8 "$C_RC"
# shellcheck disable=SC2317 # called through capture and check
as_alice() {
	local t=$1
	shift
	_ldap_cmd "$t" -x -H "$LDAP_URI" -D "$ALICE_DN" -w "$LDAP_USER_PW" "$@"
}
check "alice binds with \$LDAP_USER_PW and reads ou=subid" as_alice ldapsearch -b "$ALICE_SUB" -s base dn
capture as_alice ldapadd <<EOF
$(entry 3005 3005 $((RSTART + 5 * RCOUNT)))
EOF
check_eq "a bound user (alice) ADD under ou=subid: insufficientAccess (50)" 50 "$C_RC"
capture as_alice ldapmodify <<EOF
dn: $ALICE_SUB
changetype: modify
replace: subUidCount
subUidCount: 1
EOF
check_eq "alice MODIFY of her own subordinateIdEntry: 50" 50 "$C_RC"
capture as_alice ldapdelete "$ALICE_SUB"
check_eq "alice DELETE of her subordinateIdEntry: 50" 50 "$C_RC"
capture ldap_search -b "$ALICE_SUB" -s base subUidCount
check_match "... the entry is untouched" "^subUidCount: $RCOUNT\$" "$C_OUT"
capture ldap_as_host ldapmodify <<EOF
dn: $ALICE_DN
changetype: modify
replace: uidNumber
uidNumber: 0
EOF
check_eq "the host cannot write outside ou=subid (a user's uidNumber): 50" 50 "$C_RC"
capture ldap_as_host ldapmodify <<EOF
dn: $ALICE_SUB
changetype: modify
replace: description
description: touched by host1
EOF
check_eq "the host modifies an entry under ou=subid" 0 "$C_RC"
capture ldap_as_host ldapdelete "cn=3002,$LDAP_SUBID_BASE"
check_eq "the host deletes an entry under ou=subid (a released range)" 0 "$C_RC"
capture ldap_as_host ldapadd <<EOF
$(entry 3002 3002 "$BOB_START" "uid=bob,$LDAP_PEOPLE_BASE")
EOF
check_eq "... and adds it again" 0 "$C_RC"
capture ldap_as_anon ldapsearch -LLL -b "$LDAP_HOST_DN" -s base userPassword
check_nomatch "anonymous cannot read the host's userPassword" '^userPassword' "$C_OUT"
capture _ldap_cmd ldapsearch -x -H "$LDAP_URI" -D "$LDAP_HOST_DN" -w wrong-password -b "$LDAP_BASE" -s base dn
check_eq "host bind with a wrong password: invalidCredentials (49)" 49 "$C_RC"
check_eq "password files hold the passwords without a newline, mode 0600" \
	"600 600 $LDAP_ADMIN_PW $LDAP_HOST_PW" \
	"$(stat -c %a "$LDAP_ADMIN_PW_FILE") $(stat -c %a "$LDAP_HOST_PW_FILE") $(cat "$LDAP_ADMIN_PW_FILE") $(cat "$LDAP_HOST_PW_FILE")"
check_eq "... (byte count of the host's)" "${#LDAP_HOST_PW}" "$(wc -c <"$LDAP_HOST_PW_FILE")"
check "the host binds with -y \$LDAP_HOST_PW_FILE" \
	_ldap_cmd ldapsearch -x -H "$LDAP_URI" -D "$LDAP_HOST_DN" -y "$LDAP_HOST_PW_FILE" -b "$LDAP_SUBID_BASE" -s base dn

ldap_rename_user bob robert
capture ldap_search -b "$LDAP_PEOPLE_BASE" '(uidNumber=3002)' uid
check_eq "ldap_rename_user: uid=bob is now uid=robert, same uidNumber" \
	"dn: uid=robert,$LDAP_PEOPLE_BASE
uid: robert" "$C_OUT"

# ---- harness: pause, resume, stop, restart, kill ----------------------------------------
PORT=$LDAP_PORT
ldap_pause
T0=$(now_ms)
capture timeout 1 ldapsearch -x -H "$LDAP_URI" -b "$LDAP_BASE" -s base dn
T1=$(now_ms)
check_eq "ldap_pause: a search hangs (killed by timeout 1: rc 124)" 124 "$C_RC"
check_fail "... ldap_running says no (at once)" ldap_running
check_true "... a connection is accepted, not refused (took $((T1 - T0)) ms)" $((T1 - T0)) -ge 900
ldap_resume
check "ldap_resume: slapd answers again" ldap_search -b "$ALICE_SUB" -s base dn

OLD_PID=$LDAP_PID
T0=$(now_ms)
ldap_stop
T1=$(now_ms)
check_true "ldap_stop: slapd (pid $OLD_PID) exited (in $((T1 - T0)) ms)" -z "$LDAP_PID" -a ! -d "/proc/$OLD_PID"
capture ldap_search -b "$LDAP_BASE" -s base dn
check_eq "... a search fails at once: can't contact (255)" 255 "$C_RC"
check_nomatch "... and the pid left the cleanup list" "(^| )$OLD_PID( |\$)" "$BG_PIDS"
check_fail "... ldap_running says no" ldap_running

ldap_restart
check_eq "ldap_restart: same port" "$PORT" "$LDAP_PORT"
capture ldap_search -b "$ALICE_SUB" -s base subUidNumber
check_match "... same data (alice's entry)" "^subUidNumber: $RSTART\$" "$C_OUT"

# A write acknowledged just before SIGKILL survives it.
capture ldap_as_host ldapadd <<EOF
$(entry 3003 3003 $((RSTART + 3 * RCOUNT)))
EOF
check_eq "an entry written just before SIGKILL" 0 "$C_RC"
OLD_PID=$LDAP_PID
ldap_kill
check_true "ldap_kill: slapd (pid $OLD_PID) is gone" -z "$LDAP_PID" -a ! -d "/proc/$OLD_PID"
ldap_restart
capture ldap_search -b "cn=3003,$LDAP_SUBID_BASE" -s base cn
check_eq "ldap_restart after SIGKILL: the entry written before is there" "dn: cn=3003,$LDAP_SUBID_BASE
cn: 3003" "$C_OUT"
check_eq "... on the same port" "$PORT" "$LDAP_PORT"

ldap_pause
OLD_PID=$LDAP_PID
ldap_kill
check_true "ldap_kill of a paused slapd" -z "$LDAP_PID" -a ! -d "/proc/$OLD_PID"
ldap_restart
ldap_pause
OLD_PID=$LDAP_PID
T0=$(now_ms)
ldap_stop
T1=$(now_ms)
check_true "ldap_stop of a paused slapd ($((T1 - T0)) ms)" -z "$LDAP_PID" -a ! -d "/proc/$OLD_PID"
ldap_restart
check "restarted again: the allocator entry is there" ldap_search -b "$ALLOC" -s base subidNextStart
ldap_stop

# A test that exits while slapd is paused must not hang, nor leave slapd behind.
cat >"$W/exit_paused.sh" <<EOF
set -eu
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/ldap_lib.sh"
W=$W/exit-paused
mkdir -p "\$W"
trap _subid_cleanup EXIT
ldap_start
echo "pid \$LDAP_PID"
ldap_pause
exit 0
EOF
T0=$(now_ms)
capture env TEST_NAME=exit_paused timeout 20 bash "$W/exit_paused.sh"
T1=$(now_ms)
CHILD=$(printf '%s\n' "$C_OUT" | sed -n 's/^pid //p')
check_eq "a test exiting with slapd paused exits (no hang in the EXIT trap)" 0 "$C_RC"
[ "$C_RC" -eq 0 ] || diag "$C_ERR"
check_true "... and its slapd ($CHILD) is gone ($((T1 - T0)) ms)" -n "$CHILD" -a ! -d "/proc/${CHILD:-0}"

# ---- FreeIPA's subordinate-ID schema (test fixture) ----------------------------------------
LDAP_FREEIPA=1
ldap_start "$W/ldap-freeipa"
capture env LDAPNOINIT=1 ldapsearch -LLL -Q -Y EXTERNAL -H "$LDAP_LDAPI_URI" \
	-b cn=schema,cn=config -s one cn
check_match "LDAP_FREEIPA=1: the FreeIPA fixture is loaded next to ours" '^cn: \{5\}freeipa-subid$' "$C_OUT"
capture ldap_search -b cn=Subschema -s base attributeTypes objectClasses
for a in "23.7 NAME 'ipaSubUidNumber'" "23.8 NAME 'ipaSubUidCount'" "23.10 NAME 'ipaSubGidNumber'" "23.11 NAME 'ipaSubGidCount'"; do
	check_match "subschema: 2.16.840.1.113730.3.8.${a%% *} ${a#* NAME } (INTEGER, ordering, single-valued)" \
		"^attributeTypes: \\( 2\\.16\\.840\\.1\\.113730\\.3\\.8\\.$(rx "$a") .*EQUALITY integerMatch ORDERING integerOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE" "$C_OUT"
done
check_match "subschema: ipaOwner 2.16.840.1.113730.3.8.23.13 (DN, single-valued)" \
	"^attributeTypes: \\( 2\\.16\\.840\\.1\\.113730\\.3\\.8\\.23\\.13 NAME 'ipaOwner' .*SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE" "$C_OUT"
check_match "subschema: ipaSubordinateId (auxiliary, the five attributes)" \
	"^objectClasses: \\( 2\\.16\\.840\\.1\\.113730\\.3\\.8\\.24\\.4 NAME 'ipaSubordinateId' .*AUXILIARY MUST \\( ipaOwner \\$ ipaSubUidNumber \\$ ipaSubUidCount \\$ ipaSubGidNumber \\$ ipaSubGidCount \\)" "$C_OUT"
check_match "subschema: ipaSubordinateIdEntry (structural, MUST ipaUniqueID)" \
	"^objectClasses: \\( 2\\.16\\.840\\.1\\.113730\\.3\\.8\\.24\\.5 NAME 'ipaSubordinateIdEntry' .*STRUCTURAL MUST ipaUniqueId" "$C_OUT"

ldap_add_user carol 3004
CAROL_DN=uid=carol,$LDAP_PEOPLE_BASE
IPA_UUID=$(cat /proc/sys/kernel/random/uuid)
ipa_entry() { # UUID START [SKIP-ATTR]: an entry made the FreeIPA way
	{
		printf 'dn: ipaUniqueID=%s,%s\n' "$1" "$LDAP_FREEIPA_BASE"
		printf 'objectClass: top\nobjectClass: ipaSubordinateIdEntry\nobjectClass: ipaSubordinateId\n'
		printf 'ipaUniqueID: %s\nipaOwner: %s\ndescription: auto-assigned subid\n' "$1" "$CAROL_DN"
		printf 'ipaSubUidNumber: %s\nipaSubUidCount: %s\nipaSubGidNumber: %s\nipaSubGidCount: %s\n' \
			"$2" "$RCOUNT" "$2" "$RCOUNT"
	} | grep -v "^${3:-none}:"
}
capture ldap_as_host ldapadd <<EOF
$(ipa_entry "$IPA_UUID" "$RSTART")
EOF
check_eq "an ipaSubordinateIdEntry + ipaSubordinateId entry under cn=subids,cn=accounts (rc 0)" 0 "$C_RC"
[ "$C_RC" -eq 0 ] || diag "$C_ERR"
capture ldap_search -b "$LDAP_FREEIPA_BASE" "(&(objectClass=ipaSubordinateId)(ipaOwner=$CAROL_DN))" \
	ipaSubUidNumber ipaSubUidCount ipaSubGidNumber ipaSubGidCount
check_eq "... found by ipaOwner, with its range" "dn: ipaUniqueID=$IPA_UUID,$LDAP_FREEIPA_BASE
ipaSubUidNumber: $RSTART
ipaSubUidCount: $RCOUNT
ipaSubGidNumber: $RSTART
ipaSubGidCount: $RCOUNT" "$C_OUT"
capture ldap_search -b "$LDAP_FREEIPA_BASE" "(ipaSubUidNumber>=$RSTART)" dn
check_match "... and by ordering on ipaSubUidNumber" "^dn: ipaUniqueID=$IPA_UUID," "$C_OUT"
capture ldap_as_host ldapadd <<EOF
$(ipa_entry "$(cat /proc/sys/kernel/random/uuid)" "$RSTART" ipaOwner)
EOF
check_eq "ipaSubordinateId without ipaOwner rejected (65)" 65 "$C_RC"
capture ldap_as_host ldapadd <<EOF
$(ipa_entry "$(cat /proc/sys/kernel/random/uuid)" "$RSTART" | sed 's/^ipaSubGidNumber: .*/ipaSubGidNumber: x/')
EOF
check_eq "non-integer ipaSubGidNumber rejected (21)" 21 "$C_RC"
capture ldap_as_host ldapadd <<EOF
$(entry 3004 3004 $((RSTART + RCOUNT)) "$CAROL_DN")
EOF
check_eq "our subordinateIdEntry still works next to the fixture" 0 "$C_RC"
ldap_stop

finish
