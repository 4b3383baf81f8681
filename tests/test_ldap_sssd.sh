#!/bin/bash
# store = ldap on an sssd-backed host, all through the real programs: a real
# sssd (id_provider = ldap against the test's slapd, in the test's private
# mount namespace) is the only source of the users, who exist only in the
# directory.  A directory user's first login through pamtester allocates in
# the directory (one subordinateIdEntry, subidRangeOwner = the user's DN)
# and in the local replica; the plugin, loaded by shadow's libsubid, serves
# the range by name and by UID (getsubids as root and as the user) and the
# setuid newuidmap accepts it for the user's own process.  After the user is
# renamed in the directory (same uidNumber) and sssd sees the new name, the
# new name logs in without a new grant, keeps the same single entry (which
# now names the new name and DN) and is served the same range, while the
# old name no longer resolves.  A second
# directory user gets a different, non-overlapping range.
set -eu
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/ldap_lib.sh"

load_paths
subid_require_root
subid_require_tools unshare mount pamtester sqlite3 python3 getsubids newuidmap setpriv getent \
	sssd sss_cache
# libnss-sss: the NSS module glibc loads for "sss" (subid_require_tools only
# finds libraries named *.so)
ldconfig -p 2>/dev/null | grep -q '^[[:space:]]*libnss_sss\.so\.2[[:space:]]' ||
	skip_or_error "missing library: libnss_sss.so.2 (libnss-sss)"
ldap_require_tools
subid_require_build
subid_enter_ns "$@"
ldap_start

M=2147483648
C=65536
U1=lena
U1_NEW=lenora
U2=mika
UID1=3101
UID2=3102

# ---- sssd in the namespace ----------------------------------------------------------------
# Private nsswitch.conf (written on the /etc overlay; libsubid reads it too,
# enable_plugin adds `subid: subid`), /var/lib/sss copy, /run and
# /var/log/sssd; sssd is a child of the test, stopped by its pid at exit.
SSSD_PID=
SSSD_KIDS=
SSSD_LOG=$W/sssd.log

sssd_setup() {
	cat >/etc/nsswitch.conf <<'EOF'
passwd: files sss
group: files sss
shadow: files
hosts: files
EOF
	enable_plugin
	mkdir -p "$W/sss" "$W/sssd-log"
	# the package's tree with its modes, none of the host's cache, memory
	# cache or sockets
	cp -a /var/lib/sss/. "$W/sss/"
	find "$W/sss" -mindepth 2 ! -type d -delete
	mount --bind "$W/sss" /var/lib/sss
	mount -t tmpfs -o mode=0755 subid-run /run
	mkdir -p /var/log/sssd
	mount --bind "$W/sssd-log" /var/log/sssd
	(umask 077 && cat >"$W/sssd.conf") <<EOF
[sssd]
config_file_version = 2
services = nss
domains = LDAP

[domain/LDAP]
id_provider = ldap
auth_provider = none
access_provider = permit
ldap_uri = $LDAP_URI
ldap_search_base = $LDAP_BASE
ldap_schema = rfc2307
ldap_id_use_start_tls = false
ldap_tls_reqcert = never
enumerate = false
cache_credentials = false
EOF
	chown 0:0 "$W/sssd.conf"
	chmod 0600 "$W/sssd.conf"
}

# sssd_start USER: start sssd and wait (at most 30 s) until USER resolves.
sssd_start() {
	local t0 deadline
	t0=${EPOCHREALTIME//[!0-9]/}
	deadline=$((t0 + 30000000))
	env -u LD_PRELOAD sssd -i --logger=stderr -c "$W/sssd.conf" >>"$SSSD_LOG" 2>&1 &
	SSSD_PID=$!
	bg_track "$SSSD_PID"
	until getent passwd "$1" >/dev/null 2>&1; do
		if ! kill -0 "$SSSD_PID" 2>/dev/null; then
			diag_file "$SSSD_LOG"
			hard_error "sssd exited before $1 resolved"
		fi
		if [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ]; then
			diag_file "$SSSD_LOG"
			hard_error "sssd did not resolve $1 within 30 s"
		fi
		sleep 0.05
	done
	# its responders and back end, to stop them even if the monitor dies first
	# (procps' ps deadlocks with the sanitizer pass's libasan preloaded)
	SSSD_KIDS=$(nosan ps -o pid= --ppid "$SSSD_PID" | tr -s ' \n' ' ')
	diag "sssd (pid $SSSD_PID, children$SSSD_KIDS) resolved $1 after $(((${EPOCHREALTIME//[!0-9]/} - t0) / 1000)) ms"
}

sssd_stop() {
	local p i
	[ -n "$SSSD_PID" ] || return 0
	kill -TERM "$SSSD_PID" 2>/dev/null || true
	wait "$SSSD_PID" 2>/dev/null || true
	for p in $SSSD_KIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ "$i" -lt 100 ]; do
			i=$((i + 1))
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	# reaped: _subid_cleanup must never signal a reused pid
	local rest=
	for p in $BG_PIDS; do
		[ "$p" = "$SSSD_PID" ] || rest="$rest $p"
	done
	BG_PIDS=$rest
	SSSD_PID=
	SSSD_KIDS=
}

_sssd_hook_exit() {
	local prev words
	prev=$(trap -p EXIT)
	if [ -n "$prev" ]; then
		eval "words=($prev)"
		prev=${words[2]}
	fi
	# shellcheck disable=SC2064 # the previous handler's text, fixed now
	trap "sssd_stop${prev:+; $prev}" EXIT
}

# ---- helpers -------------------------------------------------------------------------------
# entry UID: "subUidNumber subUidCount subGidNumber subGidCount" of uid's entry
entry() {
	local out a
	out=$(ldap_search "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" \
		subUidNumber subUidCount subGidNumber subGidCount)
	for a in subUidNumber subUidCount subGidNumber subGidCount; do
		printf '%s\n' "$out" | sed -n "s/^$a: //p"
	done | tr '\n' ' ' | sed 's/ $//'
}
nentries() { ldap_search "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" dn | grep -c '^dn:' || true; }
owner_of() { ldap_search "(&(objectClass=subordinateIdEntry)(uidNumber=$1))" subidRangeOwner | sed -n 's/^subidRangeOwner: //p'; }
replica() { db_query "SELECT start || ' ' || count FROM ranges WHERE uid = $1 AND kind = ${2:-1}"; }

# ---- setup ---------------------------------------------------------------------------------
sssd_setup
for n in "$U1" "$U1_NEW" "$U2" "$UID1" "$UID2"; do
	if getent passwd "$n" >/dev/null; then hard_error "user $n already exists on this host"; fi
done
ldap_add_user "$U1" "$UID1"
ldap_add_user "$U2" "$UID2"
_sssd_hook_exit
sssd_start "$U1"

: >>/etc/subuid
: >>/etc/subgid
DB=$W/h1/private/subid.db
install -m 0600 -o 0 -g 0 "$LDAP_HOST_PW_FILE" "$W/host.pw"
ldap_host_conf "$SUBID_CONF_PATH" "$DB"
# the module's result becomes pamtester's exit status
pam_service subid-sssd "[success=ok default=die] $PAM_MODULE" "required pam_permit.so"

check_eq "$U1 is in no local file" "" "$(getent -s files passwd "$U1" || true)"
check_match "$U1 resolves through sssd only" "^$U1:\*?x?:$UID1:$UID1:" "$(getent -s sss passwd "$U1" || true)"

# ---- first login of a directory-only user ----------------------------------------------------
log_clear
check "$U1: first login (pamtester, store = ldap)" pamtester subid-sssd "$U1" open_session close_session
log_grep "granted user=$U1 uid=$UID1 kind=subuid start=[0-9]+ count=$C( |$)"
log_grep "granted user=$U1 uid=$UID1 kind=subgid start=[0-9]+ count=$C( |$)"
E1=$(entry "$UID1")
read -r S1 N1 GS1 GN1 _ <<<"$E1 - - - - -"
check_eq "$U1: one entry in the directory" 1 "$(nentries "$UID1")"
check_eq "$U1: the entry has a subuid and a subgid range of $C at the same start" "$S1 $C $S1 $C" "$E1"
check_true "$U1: the range is in the pool" "$S1" -ge "$M"
check_eq "$U1: subidRangeOwner is the user's DN" "uid=$U1,$LDAP_PEOPLE_BASE" "$(owner_of "$UID1")"
check_eq "$U1: the replica holds the directory's subuid range" "$S1 $N1" "$(replica "$UID1")"
check_eq "$U1: the replica holds the directory's subgid range" "$GS1 $GN1" "$(replica "$UID1" 2)"
log_grep "granted user=$U1 uid=$UID1 kind=subuid start=$S1 count=$C( |$)" "the logged grant is the directory's range"

# ---- the plugin serves it (shadow's libsubid, sssd for the name) -------------------------------
getsubids_is() {
	local desc=$1 expected=$2
	shift 2
	capture "$@"
	check_eq "$desc" "$expected" "$C_OUT"
}
getsubids_is "getsubids $U1" "0: $U1 $S1 $N1" getsubids "$U1"
getsubids_is "getsubids $UID1 (by UID)" "0: $UID1 $S1 $N1" getsubids "$UID1"
getsubids_is "getsubids -g $U1" "0: $U1 $GS1 $GN1" getsubids -g "$U1"
getsubids_is "getsubids -g $UID1 (by UID)" "0: $UID1 $GS1 $GN1" getsubids -g "$UID1"
getsubids_is "as $U1: getsubids $U1" "0: $U1 $S1 $N1" as_user "$UID1" getsubids "$U1"
getsubids_is "as $U1: getsubids -g $UID1" "0: $UID1 $GS1 $GN1" as_user "$UID1" getsubids -g "$UID1"

start_userns_sleeper "$UID1"
check "setuid newuidmap accepts $U1's range for her process" \
	as_user "$UID1" newuidmap "$SLEEPER_PID" 0 "$((S1 + 1))" 1000
check_eq "$U1's process has that uid_map" "0 $((S1 + 1)) 1000" "$(read_map "$SLEEPER_PID" uid)"
stop_sleeper "$SLEEPER_PID"
start_userns_sleeper "$UID1"
check_fail "setuid newuidmap refuses a mapping past the end of $U1's range" \
	as_user "$UID1" newuidmap "$SLEEPER_PID" 0 "$((S1 + 1))" "$N1"
stop_sleeper "$SLEEPER_PID"

# ---- rename in the directory ------------------------------------------------------------------
ldap_rename_user "$U1" "$U1_NEW"
# what an administrator does after a rename: sssd forgets what it cached
check "sss_cache -E" nosan sss_cache -E
check_match "$U1_NEW resolves through sssd with the same UID" "^$U1_NEW:\*?x?:$UID1:" \
	"$(getent passwd "$U1_NEW" || true)"
check_fail "$U1 no longer resolves" getent passwd "$U1"
check_match "UID $UID1 resolves to $U1_NEW" "^$U1_NEW:\*?x?:$UID1:" "$(getent passwd "$UID1" || true)"
log_clear
check "$U1_NEW: login after the rename" pamtester subid-sssd "$U1_NEW" open_session close_session
log_grep_not "granted" "$U1_NEW: no new grant is logged"
check_eq "$U1_NEW: still exactly one entry for uidNumber $UID1" 1 "$(nentries "$UID1")"
check_eq "$U1_NEW: the entry keeps the same numbers" "$E1" "$(entry "$UID1")"
check_eq "$U1_NEW: the replica keeps the same subuid range" "$S1 $N1" "$(replica "$UID1")"
check_eq "$U1_NEW: the replica keeps the same subgid range" "$GS1 $GN1" "$(replica "$UID1" 2)"
check_eq "$U1_NEW: subidRangeOwner follows the rename (what SSSD matches)" "uid=$U1_NEW,$LDAP_PEOPLE_BASE" \
	"$(owner_of "$UID1")"
check_match "$U1_NEW: the entry records the new name" "^uid: $U1_NEW$" \
	"$(ldap_search "(&(objectClass=subordinateIdEntry)(uidNumber=$UID1))" uid)"
log_grep "ldap renamed uid=$UID1 user=$U1_NEW" "$U1_NEW: the update of the entry is logged"
getsubids_is "getsubids $U1_NEW: the same range" "0: $U1_NEW $S1 $N1" getsubids "$U1_NEW"
getsubids_is "getsubids -g $U1_NEW: the same range" "0: $U1_NEW $GS1 $GN1" getsubids -g "$U1_NEW"
getsubids_is "getsubids $UID1: the same range" "0: $UID1 $S1 $N1" getsubids "$UID1"
capture getsubids "$U1"
check_eq "getsubids $U1 (old name): no range" "" "$C_OUT"
check_true "getsubids $U1 (old name) fails" "$C_RC" -ne 0
start_userns_sleeper "$UID1"
check "setuid newuidmap still accepts the range for $U1_NEW's process" \
	as_user "$UID1" newuidmap "$SLEEPER_PID" 0 "$S1" "$N1"
stop_sleeper "$SLEEPER_PID"

# ---- a second directory user ---------------------------------------------------------------------
log_clear
check "$U2: first login" pamtester subid-sssd "$U2" open_session close_session
log_grep "granted user=$U2 uid=$UID2 kind=subuid start=[0-9]+ count=$C( |$)"
E2=$(entry "$UID2")
read -r S2 _ <<<"$E2 - -"
check_eq "$U2: one entry in the directory" 1 "$(nentries "$UID2")"
check_eq "$U2: subidRangeOwner is the user's DN" "uid=$U2,$LDAP_PEOPLE_BASE" "$(owner_of "$UID2")"
check_eq "$U2: the replica holds the directory's range" "$S2 $C" "$(replica "$UID2")"
check_true "$U2's range [$S2, +$C) does not overlap $U1_NEW's [$S1, +$C)" \
	"$((S2 + C))" -le "$S1" -o "$((S1 + C))" -le "$S2"
getsubids_is "getsubids $U2" "0: $U2 $S2 $C" getsubids "$U2"
check "the replica keeps the store invariants" python3 "$top_srcdir/tests/invariants.py" --db "$DB" \
	--expect-uids "$UID1,$UID2"
if [ "$T_FAIL" -gt 0 ]; then
	diag "sssd's log:"
	diag_file "$SSSD_LOG"
fi
sssd_stop
finish
