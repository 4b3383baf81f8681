# shellcheck shell=bash
# shellcheck disable=SC2034 # globals (LDAP_URI, LDAP_PORT, ...) are read by the test scripts
#
# A throwaway OpenLDAP slapd (2.5, Debian 12) for the tests of the ldap
# store.  Sourced after tests/lib.sh.  Needs no root: slapd runs as the
# caller, on a free loopback port, as a child of the test, with its
# cn=config, database and sockets in a scratch directory.  Nothing of the
# host's /etc/ldap is used but the stock schema files (the slapd package's
# own database in /etc/ldap/slapd.d is ignored and never started).
#
#   setup        ldap_require_tools, ldap_make_w (a $W removed at exit, for
#                tests that do not enter a namespace)
#   server       ldap_start [DIR], ldap_stop, ldap_kill, ldap_pause,
#                ldap_resume, ldap_restart, ldap_running
#   directory    ldap_add_user NAME UIDNUMBER [GIDNUMBER], ldap_add_users
#                PREFIX FIRST COUNT (bulk), ldap_rename_user OLD NEW,
#                ldap_search ARGS (anonymous, base $LDAP_BASE),
#                ldap_as_admin / ldap_as_host / ldap_as_anon TOOL ARGS
#                (ldapadd, ldapmodify, ldapsearch, ldapdelete, ... with the
#                URI and the bind filled in)
#
# After ldap_start: LDAP_URI (ldap://127.0.0.1:PORT), LDAP_PORT,
# LDAP_LDAPI_URI, LDAP_BASE, LDAP_SUBID_BASE (ou=subid), LDAP_PEOPLE_BASE,
# LDAP_GROUP_BASE, LDAP_ADMIN_DN/PW (rootdn), LDAP_HOST_DN/PW (may write
# under ou=subid), LDAP_ADMIN_PW_FILE/LDAP_HOST_PW_FILE (the password, no
# trailing newline, mode 0600), LDAP_USER_PW (every test user's password),
# LDAP_DIR, LDAP_PID, LDAP_LOG.  Everyone may read everything but
# userPassword; only the rootdn and the host write.  slapd refuses anonymous
# writes before the ACLs (rc 8, strongAuthRequired); a bound user without
# write access gets rc 50.
#
# With LDAP_FREEIPA=1 the directory also has FreeIPA's subordinate-ID schema
# (conf/subid-freeipa-test.ldif) and cn=subids,cn=accounts,$LDAP_BASE
# (exported as LDAP_FREEIPA_BASE), where the host may write too.
#
# With LDAP_TLS=1 slapd also speaks TLS: StartTLS on $LDAP_URI and ldaps on
# $LDAP_LDAPS_URI, with a server certificate for 127.0.0.1 signed by a CA
# made for the run ($LDAP_TLS_CA, openssl); $LDAP_TLS_OTHER_CA is a CA that
# signed nothing here (a client trusting only it must refuse the server).

: "${LDAP_MODULE_DIR:=/usr/lib/ldap}"
: "${LDAP_SCHEMA_DIR:=/etc/ldap/schema}"
: "${LDAP_FREEIPA:=}"
: "${LDAP_TLS:=}"
# Our schema (absolute paths: they go into file:// URLs).
LDAP_SCHEMA_SUBID=$(cd "${top_srcdir:?source lib.sh first}/conf" && pwd)/subid.ldif
LDAP_SCHEMA_FREEIPA=$(cd "${top_srcdir:?}/conf" && pwd)/subid-freeipa-test.ldif

LDAP_BASE=dc=example,dc=test
LDAP_SUBID_BASE=ou=subid,$LDAP_BASE
LDAP_PEOPLE_BASE=ou=people,$LDAP_BASE
LDAP_GROUP_BASE=ou=groups,$LDAP_BASE
LDAP_FREEIPA_BASE=cn=subids,cn=accounts,$LDAP_BASE
LDAP_ADMIN_DN=cn=admin,$LDAP_BASE
LDAP_ADMIN_PW=${LDAP_ADMIN_PW:-subid-test-admin-secret}
LDAP_HOST_DN=cn=host1,ou=hosts,$LDAP_BASE
LDAP_HOST_PW=${LDAP_HOST_PW:-subid-test-host1-secret}
LDAP_USER_PW=${LDAP_USER_PW:-subid-test-user-secret}
LDAP_DIR=
LDAP_PORT=
LDAP_URI=
LDAP_LDAPI_URI=
LDAP_LDAPS_URI=
LDAP_TLS_PORT=
LDAP_TLS_CA=
LDAP_TLS_OTHER_CA=
LDAP_PID=
LDAP_LOG=
LDAP_ADMIN_PW_FILE=
LDAP_HOST_PW_FILE=
_LDAP_PAUSED=
_LDAP_EXIT_HOOKED=
_LDAP_USER_PW_HASH=

# slapd and its tools live in /usr/sbin, which a normal user's PATH may lack.
_ldap_tool() {
	local t
	t=$(command -v "$1" 2>/dev/null) || t=/usr/sbin/$1
	printf '%s\n' "$t"
}
LDAP_SLAPD=${LDAP_SLAPD:-$(_ldap_tool slapd)}
LDAP_SLAPADD=${LDAP_SLAPADD:-$(_ldap_tool slapadd)}
LDAP_SLAPPASSWD=${LDAP_SLAPPASSWD:-$(_ldap_tool slappasswd)}

# Skip (or fail on CI as root) when slapd, ldap-utils or python3 is missing.
ldap_require_tools() {
	local t missing=
	for t in "$LDAP_SLAPD" "$LDAP_SLAPADD" "$LDAP_SLAPPASSWD"; do
		[ -x "$t" ] || missing="$missing $(basename "$t")"
	done
	for t in ldapsearch ldapadd ldapmodify ldapdelete ldapmodrdn python3; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	[ -f "$LDAP_MODULE_DIR/back_mdb.so" ] || [ -f "$LDAP_MODULE_DIR/back_mdb.la" ] ||
		missing="$missing $LDAP_MODULE_DIR/back_mdb"
	for t in core cosine nis inetorgperson; do
		[ -r "$LDAP_SCHEMA_DIR/$t.ldif" ] || missing="$missing $LDAP_SCHEMA_DIR/$t.ldif"
	done
	[ -r "$LDAP_SCHEMA_SUBID" ] || hard_error "$LDAP_SCHEMA_SUBID missing"
	if [ "$LDAP_TLS" = 1 ]; then command -v openssl >/dev/null 2>&1 || missing="$missing openssl"; fi
	[ -z "$missing" ] || skip_or_error "missing (packages slapd, ldap-utils, openssl):$missing"
}

# For tests that run without subid_enter_ns: a fresh $W, removed at exit
# (after slapd and the background processes are gone).
ldap_make_w() {
	W=$(mktemp -d "${TMPDIR:-/tmp}/subid-ldap.XXXXXXXX") || hard_error "mktemp -d failed"
	# shellcheck disable=SC2064 # $W is fixed now
	trap "_subid_cleanup; rm -rf '$W'" EXIT
}

# ---- internals -----------------------------------------------------------------

# Run an ldap-utils tool without reading /etc/ldap/ldap.conf or ~/.ldaprc
# (the host's BASE, URI or TLS settings must not leak into the tests).
_ldap_cmd() { LDAPNOINIT=1 "$@"; }

_ldap_free_port() {
	python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Forget a reaped pid so that _subid_cleanup never signals a reused one.
_ldap_untrack() {
	local p rest=
	for p in $BG_PIDS; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	BG_PIDS=$rest
}

# slapd must not stay stopped at exit: a SIGSTOPped child ignores the
# SIGTERM of _subid_cleanup until SIGCONT, and its `wait` would hang.  Run
# before whatever EXIT trap the test (or lib.sh) set.
_ldap_on_exit() {
	if [ -n "$LDAP_PID" ]; then
		kill -CONT "$LDAP_PID" 2>/dev/null || true
		kill -TERM "$LDAP_PID" 2>/dev/null || true
		wait "$LDAP_PID" 2>/dev/null || true
		_ldap_untrack "$LDAP_PID"
		LDAP_PID=
	fi
}
_ldap_hook_exit() {
	[ -z "$_LDAP_EXIT_HOOKED" ] || return 0
	_LDAP_EXIT_HOOKED=1
	local prev words
	prev=$(trap -p EXIT) # "trap -- 'COMMANDS' EXIT"
	if [ -n "$prev" ]; then
		eval "words=($prev)"
		prev=${words[2]}
	fi
	# shellcheck disable=SC2064 # the previous handler's text, fixed now
	trap "_ldap_on_exit${prev:+; $prev}" EXIT
}

_ldap_ready() {
	_ldap_cmd ldapsearch -x -H "$LDAP_URI" -o nettimeout=1 -b '' -s base namingContexts >/dev/null 2>&1
}

# Start slapd on $LDAP_PORT and wait until it answers (polls every 10 ms, at
# most 5 s).  Returns 1 when slapd exits first (port taken), hard error when
# it never answers.  Logging: `-s 0` (until the config is read) and
# olcLogLevel 0 keep slapd off syslog, that is off the /dev/log catcher of
# lib.sh (with "none" slapd still logs its banner, start and stop there);
# `-d none` sends its errors (bind failures, config errors) to stderr, that
# is $LDAP_LOG.  LDAP_DEBUG=stats (any -d level) logs every operation there.
_ldap_launch() {
	local deadline=$((${EPOCHREALTIME//[!0-9]/} + 5000000))
	LDAP_URI=ldap://127.0.0.1:$LDAP_PORT
	printf '# slapd start %s on port %s\n' "$(date '+%T.%N')" "$LDAP_PORT" >>"$LDAP_LOG"
	if [ "$LDAP_TLS" = 1 ]; then LDAP_LDAPS_URI=ldaps://127.0.0.1:$LDAP_TLS_PORT; fi
	env -u LD_PRELOAD "$LDAP_SLAPD" -d "${LDAP_DEBUG:-none}" -s 0 -F "$LDAP_DIR/slapd.d" \
		-h "$LDAP_URI/ $LDAP_LDAPI_URI${LDAP_LDAPS_URI:+ $LDAP_LDAPS_URI/}" >>"$LDAP_LOG" 2>&1 &
	LDAP_PID=$!
	bg_track "$LDAP_PID"
	_LDAP_PAUSED=
	while ! _ldap_ready; do
		if ! kill -0 "$LDAP_PID" 2>/dev/null; then
			wait "$LDAP_PID" 2>/dev/null || true
			_ldap_untrack "$LDAP_PID"
			LDAP_PID=
			return 1
		fi
		if [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ]; then
			diag_file "$LDAP_LOG"
			hard_error "slapd on port $LDAP_PORT did not answer within 5 s"
		fi
		sleep 0.01
	done
	return 0
}

# The cn=config for slapadd -n0.  olcLogLevel 0: see _ldap_launch.
# olcIndexIntLen 8: integer index keys keep full precision above 2^31.
# olcDbNoSync: no fsync per write (fast); a SIGKILLed slapd still loses
# nothing acknowledged (the kernel has the pages), only a host crash would.
# olcSizeLimit unlimited: invariant checks read every entry anonymously.
# The config database is open to the caller over ldapi (SASL EXTERNAL:
# ldapmodify -Y EXTERNAL -H "$LDAP_LDAPI_URI"), e.g. to add an overlay.
_ldap_config_ldif() {
	local pw_hash=$1 s
	cat <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $LDAP_DIR/slapd.pid
olcArgsFile: $LDAP_DIR/slapd.args
olcLogLevel: 0
olcIndexIntLen: 8
EOF
	if [ "$LDAP_TLS" = 1 ]; then
		cat <<EOF
olcTLSCACertificateFile: $LDAP_TLS_CA
olcTLSCertificateFile: $LDAP_DIR/tls/server.pem
olcTLSCertificateKeyFile: $LDAP_DIR/tls/server.key
EOF
	fi
	cat <<EOF

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: $LDAP_MODULE_DIR
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

EOF
	for s in core cosine nis inetorgperson; do
		printf 'include: file://%s/%s.ldif\n\n' "$LDAP_SCHEMA_DIR" "$s"
	done
	printf 'include: file://%s\n\n' "$LDAP_SCHEMA_SUBID"
	if [ "$LDAP_FREEIPA" = 1 ]; then
		printf 'include: file://%s\n\n' "$LDAP_SCHEMA_FREEIPA"
	fi
	cat <<EOF
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: unlimited

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: to * by dn.exact=gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $LDAP_DIR/db
olcSuffix: $LDAP_BASE
olcRootDN: $LDAP_ADMIN_DN
olcRootPW: $pw_hash
olcDbMaxSize: 1073741824
olcDbNoSync: TRUE
olcSizeLimit: unlimited
olcDbIndex: objectClass eq
olcDbIndex: cn,uid eq
olcDbIndex: uidNumber,gidNumber eq
olcDbIndex: subUidNumber,subGidNumber eq
olcDbIndex: subidRangeOwner eq
EOF
	if [ "$LDAP_FREEIPA" = 1 ]; then
		printf 'olcDbIndex: ipaOwner,ipaUniqueID eq\n'
		printf 'olcDbIndex: ipaSubUidNumber,ipaSubGidNumber eq\n'
	fi
	cat <<EOF
olcAccess: to attrs=userPassword by self =xw by anonymous auth by * none
olcAccess: to dn.subtree="$LDAP_SUBID_BASE" by dn.exact="$LDAP_HOST_DN" write by * read
EOF
	if [ "$LDAP_FREEIPA" = 1 ]; then
		printf 'olcAccess: to dn.subtree="%s" by dn.exact="%s" write by * read\n' \
			"$LDAP_FREEIPA_BASE" "$LDAP_HOST_DN"
	fi
	printf 'olcAccess: to * by * read\n'
}

_ldap_base_ldif() {
	local host_hash=$1
	cat <<EOF
dn: $LDAP_BASE
objectClass: dcObject
objectClass: organization
dc: example
o: subid test directory

dn: $LDAP_PEOPLE_BASE
objectClass: organizationalUnit
ou: people

dn: $LDAP_GROUP_BASE
objectClass: organizationalUnit
ou: groups

dn: ou=hosts,$LDAP_BASE
objectClass: organizationalUnit
ou: hosts

dn: $LDAP_HOST_DN
objectClass: device
objectClass: simpleSecurityObject
cn: host1
description: subid test host: may write under $LDAP_SUBID_BASE
userPassword: $host_hash

dn: $LDAP_SUBID_BASE
objectClass: organizationalUnit
ou: subid
EOF
	if [ "$LDAP_FREEIPA" = 1 ]; then
		cat <<EOF

dn: cn=accounts,$LDAP_BASE
objectClass: organizationalRole
cn: accounts
description: stands in for FreeIPA's nsContainer (389-ds schema)
EOF
	fi
}

# ---- a host's configuration -----------------------------------------------------------

# ldap_host_conf FILE DB [KEY=VALUE...]: install (write_conf) a host's subid.conf
# for this directory: store = ldap, its own replica DB, ldap_uri, ldap_base =
# $LDAP_SUBID_BASE, the host's bind with $W/host.pw (the test copies
# $LDAP_HOST_PW_FILE there, root-owned 0600), ldap_timeout = 5.  Each
# KEY=VALUE replaces that key or adds one; an empty VALUE drops the key.
ldap_host_conf() {
	local file=$1 db=$2 kv k
	shift 2
	local -A val=([store]=ldap [db_path]=$db [ldap_uri]=$LDAP_URI [ldap_base]=$LDAP_SUBID_BASE
		[ldap_bind_dn]=$LDAP_HOST_DN [ldap_bind_pw_file]=$W/host.pw [ldap_timeout]=5)
	local order=(store db_path ldap_uri ldap_base ldap_bind_dn ldap_bind_pw_file ldap_timeout)
	for kv in "$@"; do
		k=${kv%%=*}
		[ -n "${val[$k]+set}" ] || order+=("$k")
		val[$k]=${kv#*=}
	done
	for k in "${order[@]}"; do
		[ -z "${val[$k]}" ] || printf '%s = %s\n' "$k" "${val[$k]}"
	done | write_conf "$file"
}

# ---- server ------------------------------------------------------------------------

# A CA, a server certificate for 127.0.0.1 signed by it, and an unrelated CA.
_ldap_make_certs() {
	local t=$LDAP_DIR/tls
	mkdir -p "$t"
	(
		cd "$t" || exit 1
		for ca in ca other-ca; do
			openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=subid test $ca" \
				-keyout "$ca.key" -out "$ca.pem" -addext basicConstraints=critical,CA:TRUE \
				-addext keyUsage=critical,keyCertSign,cRLSign || exit 1
		done
		openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr || exit 1
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
			-extfile server.ext -out server.pem || exit 1
	) >"$LDAP_DIR/tls.log" 2>&1 || { diag_file "$LDAP_DIR/tls.log"; hard_error "making the test certificates failed"; }
	LDAP_TLS_CA=$t/ca.pem
	LDAP_TLS_OTHER_CA=$t/other-ca.pem
}

# ldap_start [DIR]: build a fresh cn=config and database in DIR (default
# $W/ldap; must not exist yet or be empty), start slapd on a free loopback
# port and load the base entries.
ldap_start() {
	local dir=${1:-$W/ldap} admin_hash host_hash tries=0
	[ -n "${1:-}" ] || [ -n "$W" ] || hard_error "ldap_start: no DIR and no \$W"
	[ -z "$LDAP_PID" ] || hard_error "ldap_start: slapd already running (pid $LDAP_PID)"
	if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
		hard_error "ldap_start: $dir is not empty"
	fi
	mkdir -p "$dir/slapd.d" "$dir/db"
	LDAP_DIR=$(cd "$dir" && pwd)
	LDAP_LOG=$LDAP_DIR/slapd.log
	: >"$LDAP_LOG"
	LDAP_LDAPI_URI=ldapi://$(printf %s "$LDAP_DIR/ldapi" | sed 's,/,%2F,g')
	# sun_path holds 108 bytes with the terminating NUL.
	[ "${#LDAP_DIR}" -le 100 ] || hard_error "ldap_start: $LDAP_DIR too long for a unix socket path"

	admin_hash=$("$LDAP_SLAPPASSWD" -s "$LDAP_ADMIN_PW") || hard_error "slappasswd failed"
	host_hash=$("$LDAP_SLAPPASSWD" -s "$LDAP_HOST_PW") || hard_error "slappasswd failed"
	_LDAP_USER_PW_HASH=$("$LDAP_SLAPPASSWD" -s "$LDAP_USER_PW") || hard_error "slappasswd failed"
	if [ "$LDAP_TLS" = 1 ]; then _ldap_make_certs; fi
	_ldap_config_ldif "$admin_hash" >"$LDAP_DIR/config.ldif"
	if ! env -u LD_PRELOAD "$LDAP_SLAPADD" -n 0 -F "$LDAP_DIR/slapd.d" \
		-l "$LDAP_DIR/config.ldif" >"$LDAP_DIR/slapadd.log" 2>&1; then
		diag_file "$LDAP_DIR/slapadd.log"
		hard_error "slapadd -n0 of $LDAP_DIR/config.ldif failed"
	fi

	_ldap_hook_exit
	# The port is free when probed but may be taken before slapd binds it:
	# then slapd exits, and we try another.
	while :; do
		LDAP_PORT=$(_ldap_free_port) || hard_error "cannot pick a free port"
		if [ "$LDAP_TLS" = 1 ]; then
			LDAP_TLS_PORT=$(_ldap_free_port) || hard_error "cannot pick a free port"
		fi
		_ldap_launch && break
		tries=$((tries + 1))
		if [ "$tries" -ge 5 ]; then
			diag_file "$LDAP_LOG"
			hard_error "slapd did not start (5 ports tried)"
		fi
	done

	_ldap_base_ldif "$host_hash" >"$LDAP_DIR/base.ldif"
	_out
	if ! ldap_as_admin ldapadd -f "$LDAP_DIR/base.ldif" >"$T_OUT" 2>&1; then
		diag_file "$T_OUT"
		hard_error "loading the base entries failed"
	fi
	if [ "$LDAP_FREEIPA" = 1 ]; then
		printf 'dn: %s\nobjectClass: organizationalRole\ncn: subids\n' "$LDAP_FREEIPA_BASE" |
			ldap_as_admin ldapadd >"$T_OUT" 2>&1 || {
			diag_file "$T_OUT"
			hard_error "adding $LDAP_FREEIPA_BASE failed"
		}
	fi

	LDAP_ADMIN_PW_FILE=$LDAP_DIR/admin.pw
	LDAP_HOST_PW_FILE=$LDAP_DIR/host.pw
	(umask 077 && printf '%s' "$LDAP_ADMIN_PW" >"$LDAP_ADMIN_PW_FILE" &&
		printf '%s' "$LDAP_HOST_PW" >"$LDAP_HOST_PW_FILE")
	export LDAP_URI LDAP_PORT LDAP_LDAPI_URI LDAP_BASE LDAP_SUBID_BASE LDAP_PEOPLE_BASE \
		LDAP_GROUP_BASE LDAP_ADMIN_DN LDAP_ADMIN_PW LDAP_HOST_DN LDAP_HOST_PW \
		LDAP_ADMIN_PW_FILE LDAP_HOST_PW_FILE
	if [ "$LDAP_FREEIPA" = 1 ]; then export LDAP_FREEIPA_BASE; fi
	if [ "$LDAP_TLS" = 1 ]; then export LDAP_LDAPS_URI LDAP_TLS_PORT LDAP_TLS_CA LDAP_TLS_OTHER_CA; fi
}

# ldap_running: slapd was started, is not reaped nor paused, and answers.
ldap_running() {
	[ -n "$LDAP_PID" ] && [ -z "$_LDAP_PAUSED" ] && kill -0 "$LDAP_PID" 2>/dev/null && _ldap_ready
}

# ldap_stop: SIGTERM (after SIGCONT when paused) and wait for the exit.
ldap_stop() {
	[ -n "$LDAP_PID" ] || return 0
	kill -CONT "$LDAP_PID" 2>/dev/null || true
	kill -TERM "$LDAP_PID" 2>/dev/null || true
	wait "$LDAP_PID" 2>/dev/null || true
	_ldap_untrack "$LDAP_PID"
	LDAP_PID=
	_LDAP_PAUSED=
}

# ldap_kill: SIGKILL (works on a paused slapd too) and reap it.
ldap_kill() {
	[ -n "$LDAP_PID" ] || return 0
	kill -KILL "$LDAP_PID" 2>/dev/null || true
	wait "$LDAP_PID" 2>/dev/null || true
	_ldap_untrack "$LDAP_PID"
	LDAP_PID=
	_LDAP_PAUSED=
}

# ldap_pause / ldap_resume: SIGSTOP / SIGCONT.  While paused the kernel still
# accepts TCP connections on the port (backlog), but nothing answers:
# clients see a hang, not a refusal.
ldap_pause() {
	[ -n "$LDAP_PID" ] || hard_error "ldap_pause: slapd is not running"
	kill -STOP "$LDAP_PID"
	_LDAP_PAUSED=1
}
ldap_resume() {
	[ -n "$LDAP_PID" ] || hard_error "ldap_resume: slapd is not running"
	kill -CONT "$LDAP_PID"
	_LDAP_PAUSED=
}

# ldap_restart: stop slapd if it runs, start it again on the same port with
# the same configuration and data.
ldap_restart() {
	if [ -z "$LDAP_DIR" ] || [ -z "$LDAP_PORT" ]; then hard_error "ldap_restart: ldap_start first"; fi
	ldap_stop
	if ! _ldap_launch; then
		diag_file "$LDAP_LOG"
		hard_error "slapd did not restart on port $LDAP_PORT"
	fi
}

# ---- directory -----------------------------------------------------------------------

# ldap_as_admin / ldap_as_host / ldap_as_anon TOOL ARGS...: run an ldap-utils
# tool against the test slapd, bound as the rootdn, as host1, or anonymously.
ldap_as_admin() {
	local t=$1
	shift
	_ldap_cmd "$t" -x -H "$LDAP_URI" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" "$@"
}
ldap_as_host() {
	local t=$1
	shift
	_ldap_cmd "$t" -x -H "$LDAP_URI" -D "$LDAP_HOST_DN" -w "$LDAP_HOST_PW" "$@"
}
ldap_as_anon() {
	local t=$1
	shift
	_ldap_cmd "$t" -x -H "$LDAP_URI" "$@"
}

# ldap_search ARGS...: anonymous ldapsearch under $LDAP_BASE (a -b in ARGS
# wins), LDIF without comments or line wrapping.
ldap_search() {
	_ldap_cmd ldapsearch -x -LLL -o ldif-wrap=no -o nettimeout=5 -H "$LDAP_URI" -b "$LDAP_BASE" "$@"
}

# The LDIF of one user: uid=NAME,ou=people (inetOrgPerson + posixAccount,
# userPassword $LDAP_USER_PW) and its group cn=NAME,ou=groups (posixGroup).
_ldap_user_ldif() { # builtins only: ldap_add_users calls it hundreds of times
	printf 'dn: uid=%s,%s\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n' "$1" "$LDAP_PEOPLE_BASE"
	printf 'uid: %s\ncn: %s\nsn: %s\nuidNumber: %s\ngidNumber: %s\n' "$1" "$1" "$1" "$2" "$3"
	printf 'homeDirectory: /nonexistent\nloginShell: /bin/sh\ngecos: subid LDAP test user\n'
	printf 'userPassword: %s\n\n' "$_LDAP_USER_PW_HASH"
	printf 'dn: cn=%s,%s\nobjectClass: posixGroup\ncn: %s\ngidNumber: %s\n\n' "$1" "$LDAP_GROUP_BASE" "$1" "$3"
}

# ldap_add_user NAME UIDNUMBER [GIDNUMBER]: uid=NAME,ou=people (inetOrgPerson
# + posixAccount, password $LDAP_USER_PW) and its group cn=NAME,ou=groups
# (posixGroup, GIDNUMBER defaults to UIDNUMBER).
ldap_add_user() {
	_out
	if ! _ldap_user_ldif "$1" "$2" "${3:-$2}" | ldap_as_admin ldapadd >"$T_OUT" 2>&1; then
		diag_file "$T_OUT"
		hard_error "ldap_add_user $1 $2 failed"
	fi
}

# ldap_add_users PREFIX FIRST COUNT: COUNT users PREFIX<uidNumber> with
# uidNumbers (and private gidNumbers) FIRST, FIRST+1, ... in one ldapadd.
ldap_add_users() {
	local prefix=$1 first=$2 n=$3 i
	_out
	for ((i = first; i < first + n; i++)); do
		_ldap_user_ldif "$prefix$i" "$i" "$i"
	done >"$LDAP_DIR/users.ldif"
	if ! ldap_as_admin ldapadd -f "$LDAP_DIR/users.ldif" >"$T_OUT" 2>&1; then
		diag_file "$T_OUT"
		hard_error "ldap_add_users $prefix $first $n failed"
	fi
}

# ldap_rename_user OLD NEW: uid=OLD becomes uid=NEW (same entry, same
# uidNumber), as a rename in the directory does.
ldap_rename_user() {
	_out
	ldap_as_admin ldapmodify >"$T_OUT" 2>&1 <<EOF || {
dn: uid=$1,$LDAP_PEOPLE_BASE
changetype: modrdn
newrdn: uid=$2
deleteoldrdn: 1
EOF
		diag_file "$T_OUT"
		hard_error "ldap_rename_user $1 $2 failed"
	}
}
