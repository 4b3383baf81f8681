# shellcheck shell=bash
# shellcheck disable=SC2034 # globals (C_OUT, SLEEPER_PID, ...) are read by the test scripts
#
# Shared harness of the shell tests.  Sourced by tests/test_*.sh, which run
# under `set -eu` with top_srcdir/top_builddir exported by `make check`.
#
#   assertions   ok, not_ok, check, check_fail, check_eq, check_match,
#                check_nomatch, check_true, finish; capture (C_RC, C_OUT,
#                C_ERR); rx (escape a literal for an ERE)
#   environment  load_paths, subid_require_root, subid_require_tools,
#                subid_require_build, subid_enter_ns (private mount namespace:
#                tmpfs $W, overlays over /etc and /dev, syslog catcher on
#                /dev/log; the host's files are never written)
#   fixtures     add_user, add_group, write_conf, pam_service, enable_plugin,
#                disable_plugin, db_query, db_rows, db_lock/db_unlock,
#                start_userns_sleeper/stop_sleeper, read_map, as_user,
#                libsubid_query
#   syslog       log_clear, log_sync, log_text, log_grep, log_grep_not
#
# Exit codes (automake plain driver): 0 pass, 77 skip, 99 hard error, 1 fail.

TEST_NAME=$(basename "$0" .sh)

: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
export top_builddir top_srcdir

T_PASS=0
T_FAIL=0
T_OUT=
W=${SUBID_TEST_W:-}

# ---- diagnostics and exits ---------------------------------------------------

diag() { printf '# %s\n' "$*"; }

# Print a file (command output) as indented diagnostics, at most 40 lines.
diag_file() {
	[ -s "$1" ] || return 0
	head -n 40 "$1" | sed 's/^/#   | /'
}

# Environment problem (not a test failure): skip, or hard error on CI as root.
skip_or_error() {
	printf '%s: %s\n' "$TEST_NAME" "$*" >&2
	if [ "${CI:-}" = true ] && [ "$(id -u)" = 0 ]; then
		printf '%s: CI=true and running as root: this is an error, not a skip\n' "$TEST_NAME" >&2
		exit 99
	fi
	printf '%s: SKIP\n' "$TEST_NAME"
	exit 77
}

hard_error() {
	printf '%s: ERROR: %s\n' "$TEST_NAME" "$*" >&2
	exit 99
}

# ---- assertions ----------------------------------------------------------------

ok() {
	T_PASS=$((T_PASS + 1))
	printf 'ok - %s\n' "$1"
}

not_ok() {
	T_FAIL=$((T_FAIL + 1))
	printf 'not ok - %s\n' "$1"
	shift
	local l
	for l in "$@"; do diag "$l"; done
}

_out() {
	if [ -z "$T_OUT" ]; then
		if [ -n "$W" ] && [ -d "$W" ]; then
			T_OUT=$W/cmd.out
		else
			T_OUT=$(mktemp "${TMPDIR:-/tmp}/subid-test-out.XXXXXX")
			T_OUT_TMP=$T_OUT
		fi
	fi
}

# check DESC CMD...: CMD exits 0.  Its output (stdout+stderr) stays in $T_OUT.
check() {
	local desc=$1 rc=0
	shift
	_out
	"$@" >"$T_OUT" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "command: $* (exit $rc)"
		diag_file "$T_OUT"
	fi
	return 0
}

# check_fail DESC CMD...: CMD exits non-zero.
check_fail() {
	local desc=$1 rc=0
	shift
	_out
	"$@" >"$T_OUT" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "command: $* (exit 0, expected failure)"
		diag_file "$T_OUT"
	fi
	return 0
}

# check_eq DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: '$2'" "actual:   '$3'"
	fi
	return 0
}

# check_match DESC ERE TEXT: some line of TEXT matches ERE.
check_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		ok "$1"
	else
		not_ok "$1" "no line matches /$2/ in:"
		printf '%s\n' "$3" | head -n 20 | sed 's/^/#   | /'
	fi
	return 0
}

# check_nomatch DESC ERE TEXT: no line of TEXT matches ERE.
check_nomatch() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		not_ok "$1" "unexpected line matching /$2/ in:"
		printf '%s\n' "$3" | head -n 20 | sed 's/^/#   | /'
	else
		ok "$1"
	fi
	return 0
}

# check_true DESC EXPR...: `test EXPR` holds (numeric comparisons etc.).
check_true() {
	local desc=$1
	shift
	if [ "$@" ]; then
		ok "$desc"
	else
		not_ok "$desc" "false: [ $* ]"
	fi
	return 0
}

finish() {
	_sanitizer_reports
	if [ "$T_FAIL" -gt 0 ] && [ -n "$SYSLOG_FILE" ] && [ -s "$SYSLOG_FILE" ]; then
		diag "last syslog lines:"
		grep -v 'subid-test-sync-' "$SYSLOG_FILE" | tail -n 30 | sed 's/^/#   | /'
	fi
	printf '%s: %d passed, %d failed\n' "$TEST_NAME" "$T_PASS" "$T_FAIL"
	[ "$T_FAIL" -eq 0 ] || exit 1
	[ "$T_PASS" -gt 0 ] || hard_error "no assertion ran"
	exit 0
}

# Escape a literal string for use in an ERE.
rx() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# ---- sanitizer builds ----------------------------------------------------------------
# With SUBID_SANITIZE=1 (tests/ci.sh, after configuring with
# -fsanitize=address,undefined) the modules need libasan loaded first in the
# uninstrumented hosts (pamtester, getsubids, python): preload it in the whole
# test.  Reports go to files under $SAN_DIR, and finish() fails on any.
SAN_DIR=
if [ -n "${SUBID_SANITIZE:-}" ]; then
	# one directory per test, so a report is blamed on the test that made it
	SUBID_SAN_DIR=${SUBID_SAN_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/subid-san.XXXXXX")}
	export SUBID_SAN_DIR
	SAN_DIR=$SUBID_SAN_DIR/$TEST_NAME
	mkdir -p "$SAN_DIR" && chmod 1777 "$SUBID_SAN_DIR" "$SAN_DIR"
	SAN_LIB=$(readlink -f "$(gcc -print-file-name=libasan.so)")
	LD_PRELOAD=$(basename "$SAN_LIB" | sed 's/\(\.so\.[0-9]*\).*/\1/')
	export LD_PRELOAD
	export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:log_path=$SAN_DIR/asan"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SAN_DIR/ubsan"
fi

# setuid newuidmap/newgidmap preload only set-user-ID libraries from the
# standard directories: inside the namespace, an overlay over libasan's
# directory gives a copy the bit.  Nothing changes outside the namespace.
_sanitizer_setuid() {
	[ -n "${SUBID_SANITIZE:-}" ] || return 0
	_overlay "$(dirname "$SAN_LIB")"
	chmod u+s "$SAN_LIB"
}

# nosan CMD...: a system tool without the sanitizer preload (uninstrumented
# tools can trip ASan's own checks, e.g. dd's aligned_alloc).
nosan() { env -u LD_PRELOAD "$@"; }

_sanitizer_reports() {
	[ -n "$SAN_DIR" ] && [ -d "$SAN_DIR" ] || return 0
	local f n=0
	for f in "$SAN_DIR"/asan.* "$SAN_DIR"/ubsan.*; do
		[ -s "$f" ] || continue
		n=$((n + 1))
		not_ok "sanitizer report $(basename "$f")"
		head -n 30 "$f" | sed 's/^/#   | /'
	done
	[ "$n" -gt 0 ] || ok "no sanitizer report"
}

# ---- environment -----------------------------------------------------------------

load_paths() {
	[ -r "$top_builddir/tests/paths.sh" ] ||
		hard_error "$top_builddir/tests/paths.sh missing: run 'make' (or 'make check') first"
	# shellcheck source=/dev/null
	. "$top_builddir/tests/paths.sh"
	: "${SUBID_CONF_PATH:?}" "${SUBID_DB_PATH:?}" "${PAM_MODULE:?}" "${PLUGIN_DIR:?}" "${PLUGIN:?}" "${SUBIDCTL:?}"
}

subid_require_root() {
	if [ "$(id -u)" != 0 ]; then
		printf '%s: needs root (private mount namespace, overlay /etc, PAM as root): SKIP\n' "$TEST_NAME"
		exit 77
	fi
}

# subid_require_tools TOOL...: each is a command in PATH, or a library name
# (ending in .so) the dynamic linker can find.
subid_require_tools() {
	local t missing=
	for t in "$@"; do
		case "$t" in
		*.so)
			if ! ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*${t}[[:space:]]"; then
				missing="$missing $t"
			fi
			;;
		*) command -v "$t" >/dev/null 2>&1 || missing="$missing $t" ;;
		esac
	done
	[ -z "$missing" ] || skip_or_error "missing tools:$missing"
}

subid_require_build() {
	local f
	for f in "$PAM_MODULE" "$PLUGIN" "$SUBIDCTL"; do
		[ -f "$f" ] || hard_error "$f not built: run 'make' first"
	done
}

# Re-run the calling script inside a private mount namespace, then set up
# the namespace: tmpfs on $W, overlays over /etc (and the config directory)
# and /dev, syslog catcher.  Call as: subid_enter_ns "$@"
subid_enter_ns() {
	if [ -z "${SUBID_TEST_IN_NS:-}" ]; then
		local w rc=0
		w=$(mktemp -d "${TMPDIR:-/tmp}/subid-test.XXXXXXXX") || hard_error "mktemp -d failed"
		SUBID_TEST_IN_NS=1 SUBID_TEST_W=$w \
			unshare -m --propagation private -- bash "$0" "$@" || rc=$?
		rmdir "$w" 2>/dev/null || true
		exit "$rc"
	fi
	W=$SUBID_TEST_W
	if [ -z "$W" ] || ! [ -d "$W" ]; then hard_error "SUBID_TEST_W not set up"; fi
	# Not for the programs under test, nor for scripts they might start.
	export -n SUBID_TEST_IN_NS SUBID_TEST_W

	mount -t tmpfs -o mode=0755 subid-test "$W" ||
		skip_or_error "cannot mount a tmpfs in a private mount namespace"
	trap _subid_cleanup EXIT
	mkdir -p "$W/ovl"
	# Test users read the store under $W (getsubids, newuidmap).
	if command -v setpriv >/dev/null 2>&1 &&
		! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$W/ovl"; then
		hard_error "$W is not reachable by unprivileged users: set TMPDIR to a world-searchable directory"
	fi

	_overlay /etc
	local confdir
	confdir=$(dirname "$SUBID_CONF_PATH")
	case "$confdir" in
	/etc | /etc/*) mkdir -p "$confdir" ;;
	*)
		# a build configured with another sysconfdir (make distcheck: a
		# directory inside its own prefix, made before anything is installed)
		mkdir -p "$confdir" || hard_error "config path $SUBID_CONF_PATH: cannot make $confdir"
		_overlay "$confdir"
		;;
	esac
	# A running nscd would answer passwd lookups from the host's files.
	if [ -d /run/nscd ]; then mount -t tmpfs -o mode=0755 subid-nscd /run/nscd; fi

	_syslog_start
	_sanitizer_setuid
}

# _overlay DIR: writable overlay over DIR, upper and work dirs inside $W.
_overlay() {
	local d=$1 n
	n=$(printf '%s' "$d" | tr / _)
	mkdir -p "$W/ovl/$n.upper" "$W/ovl/$n.work"
	mount -t overlay "subid-ovl$n" \
		-o "lowerdir=$d,upperdir=$W/ovl/$n.upper,workdir=$W/ovl/$n.work" "$d" ||
		skip_or_error "cannot mount an overlay over $d"
}

BG_PIDS=
SYSLOG_PID=

# Remember a background process to kill at exit.
bg_track() { BG_PIDS="$BG_PIDS $1"; }

_subid_cleanup() {
	local p
	for p in $BG_PIDS $SYSLOG_PID; do
		kill "$p" 2>/dev/null || true
	done
	for p in $BG_PIDS $SYSLOG_PID; do
		wait "$p" 2>/dev/null || true
	done
	if [ -n "${T_OUT_TMP:-}" ]; then rm -f "$T_OUT_TMP"; fi
}

# ---- syslog catcher ----------------------------------------------------------------
# /dev (overlay, so the host's /dev is untouched) gets a datagram socket
# /dev/log; every message is appended to $W/syslog.txt, one per line.

SYSLOG_FILE=
LOG_SEQ=0

_syslog_start() {
	# Keep /dev/pts and /dev/shm reachable through the overlay.
	mkdir -p "$W/keep/pts" "$W/keep/shm"
	mount --bind /dev/pts "$W/keep/pts" 2>/dev/null || true
	mount --bind /dev/shm "$W/keep/shm" 2>/dev/null || true
	_overlay /dev
	mount --move "$W/keep/pts" /dev/pts 2>/dev/null || true
	mount --move "$W/keep/shm" /dev/shm 2>/dev/null || true

	# The host may have one (e.g. a symlink to journald's socket): replace it.
	rm -f /dev/log
	SYSLOG_FILE=$W/syslog.txt
	: >"$SYSLOG_FILE"
	cat >"$W/syslogd.py" <<'EOF'
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        d = s.recv(65536)
        f.write(d.rstrip(b"\0\n").replace(b"\n", b" ") + b"\n")
EOF
	env -u LD_PRELOAD python3 "$W/syslogd.py" /dev/log "$SYSLOG_FILE" &
	SYSLOG_PID=$!
	local i=0
	while ! [ -S /dev/log ]; do
		i=$((i + 1))
		[ "$i" -lt 500 ] || hard_error "syslog catcher did not bind /dev/log"
		kill -0 "$SYSLOG_PID" 2>/dev/null || hard_error "syslog catcher died"
		sleep 0.01
	done
}

_log_send() {
	if command -v logger >/dev/null 2>&1; then
		env -u LD_PRELOAD logger -u /dev/log -t subid-test -- "$1"
	else
		python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.sendto(("<13>subid-test: "+sys.argv[1]).encode(),"/dev/log")' "$1"
	fi
}

# Wait until every message sent so far is in $SYSLOG_FILE (datagrams on one
# socket are received in order: send a marker and wait for it).
log_sync() {
	LOG_SEQ=$((LOG_SEQ + 1))
	# Unique even when called from command substitutions (subshells).
	local m="subid-test-sync-$BASHPID-$LOG_SEQ-$RANDOM$RANDOM" i=0
	_log_send "$m"
	while ! grep -qF -- "$m" "$SYSLOG_FILE"; do
		i=$((i + 1))
		[ "$i" -lt 500 ] || hard_error "syslog catcher does not answer"
		sleep 0.01
	done
}

log_clear() {
	log_sync
	: >"$SYSLOG_FILE"
}

# Log lines (without our markers).
log_text() {
	log_sync
	grep -v 'subid-test-sync-' "$SYSLOG_FILE" || true
}

# log_grep ERE [DESC]: assert a logged line matches.
log_grep() {
	check_match "${2:-syslog has a line matching /$1/}" "$1" "$(log_text)"
}

# log_grep_not ERE [DESC]: assert no logged line matches.
log_grep_not() {
	check_nomatch "${2:-syslog has no line matching /$1/}" "$1" "$(log_text)"
}

# ---- fixtures ------------------------------------------------------------------------

# add_group NAME GID [MEMBERS]
add_group() {
	if getent group "$1" >/dev/null || getent group "$2" >/dev/null; then
		hard_error "test group $1 or gid $2 already exists on this host"
	fi
	printf '%s:x:%s:%s\n' "$1" "$2" "${3:-}" >>/etc/group
	if [ -f /etc/gshadow ]; then printf '%s:!::%s\n' "$1" "${3:-}" >>/etc/gshadow; fi
}

# add_user NAME UID [GID]: passwd + shadow line; a group NAME with GID when
# GID is not given (user private group).
add_user() {
	local name=$1 uid=$2 gid=${3:-}
	if getent passwd "$name" >/dev/null || getent passwd "$uid" >/dev/null; then
		hard_error "test user $name or uid $uid already exists on this host"
	fi
	if [ -z "$gid" ]; then
		gid=$uid
		add_group "$name" "$gid"
	fi
	printf '%s:x:%s:%s:subid test user:/nonexistent:/bin/sh\n' "$name" "$uid" "$gid" >>/etc/passwd
	if [ -f /etc/shadow ]; then printf '%s:*:19000:0:99999:7:::\n' "$name" >>/etc/shadow; fi
}

# write_conf [PATH] < content: install a root-owned 0644 config.
# shellcheck disable=SC2120 # PATH is optional
write_conf() {
	local p=${1:-$SUBID_CONF_PATH}
	mkdir -p "$(dirname "$p")"
	cat >"$p"
	chown 0:0 "$p"
	chmod 0644 "$p"
}

# pam_service NAME SESSION-LINE...: /etc/pam.d/NAME with pam_permit for
# auth/account/password and the given session lines.
pam_service() {
	local name=$1 l
	shift
	mkdir -p /etc/pam.d
	{
		echo "# subid test service"
		echo "auth     required pam_permit.so"
		echo "account  required pam_permit.so"
		echo "password required pam_permit.so"
		for l in "$@"; do echo "session  $l"; done
	} >"/etc/pam.d/$name"
	chmod 0644 "/etc/pam.d/$name"
}

# Enable the plugin through shadow's real loader: `subid: subid` in
# /etc/nsswitch.conf and a linker cache that finds libsubid_subid.so.
enable_plugin() {
	local tmp=$W/nsswitch.conf
	grep -v '^[[:space:]]*subid:' /etc/nsswitch.conf >"$tmp" || true
	if [ -s "$tmp" ] && [ -n "$(tail -c 1 "$tmp")" ]; then echo >>"$tmp"; fi
	printf 'subid: subid\n' >>"$tmp"
	cat "$tmp" >/etc/nsswitch.conf
	printf 'include /etc/ld.so.conf.d/*.conf\n%s\n' "$PLUGIN_DIR" >"$W/ld.so.conf"
	ldconfig -X -C /etc/ld.so.cache -f "$W/ld.so.conf" ||
		hard_error "ldconfig could not write the private linker cache"
	ldconfig -p | grep -q 'libsubid_subid\.so ' ||
		hard_error "libsubid_subid.so is not in the linker cache"
}

# Disable it again (files only).
disable_plugin() {
	grep -v '^[[:space:]]*subid:' /etc/nsswitch.conf >"$W/nsswitch.conf" || true
	cat "$W/nsswitch.conf" >/etc/nsswitch.conf
}

# db_query SQL [DB]: read-only query of the store; prints nothing when the
# database does not exist.
db_query() {
	local db=${2:-$DB}
	[ -e "$db" ] || return 0
	sqlite3 -readonly -batch -noheader -separator ' ' -cmd '.timeout 5000' "$db" "$1"
}

# db_rows [WHERE] [DB]: number of rows in ranges.
db_rows() {
	local n
	n=$(db_query "SELECT count(*) FROM ranges${1:+ WHERE $1};" "${2:-$DB}")
	echo "${n:-0}"
}

# login_pair SERVICE NAME_A NAME_B: first logins of the users with uids 2001
# and 2002, then A_START A_COUNT AG_START AG_COUNT (2001's subuid and subgid
# range) and B_START ... BG_COUNT (2002's) from the store $DB.
login_pair() {
	local v
	check "$2: login grants the ranges" pamtester "$1" "$2" open_session close_session
	check "$3: login grants the ranges" pamtester "$1" "$3" open_session close_session
	read -r A_START A_COUNT _ <<<"$(db_query "SELECT start, count FROM ranges WHERE uid = 2001 AND kind = 1;") - - -"
	read -r AG_START AG_COUNT _ <<<"$(db_query "SELECT start, count FROM ranges WHERE uid = 2001 AND kind = 2;") - - -"
	read -r B_START B_COUNT _ <<<"$(db_query "SELECT start, count FROM ranges WHERE uid = 2002 AND kind = 1;") - - -"
	read -r BG_START BG_COUNT _ <<<"$(db_query "SELECT start, count FROM ranges WHERE uid = 2002 AND kind = 2;") - - -"
	for v in "$A_START" "$A_COUNT" "$AG_START" "$AG_COUNT" "$B_START" "$B_COUNT" "$BG_START" "$BG_COUNT"; do
		[[ $v =~ ^[0-9]+$ ]] || hard_error "logins did not store ranges for $2 and $3 (got '$v'); see test_pam"
	done
}

# Start `unshare -U sleep 30` as UID (its own user namespace, no maps yet)
# and wait until it is in the new namespace; its pid goes to SLEEPER_PID.
SLEEPER_PID=
start_userns_sleeper() {
	local uid=$1 pid i=0 myns
	myns=$(readlink /proc/self/ns/user)
	setpriv --reuid="$uid" --regid="$uid" --init-groups unshare -U sleep 30 >/dev/null 2>&1 &
	pid=$!
	bg_track "$pid"
	while :; do
		if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ] &&
			[ "$(readlink "/proc/$pid/ns/user" 2>/dev/null)" != "$myns" ]; then
			break
		fi
		kill -0 "$pid" 2>/dev/null || hard_error "unshare -U sleep as uid $uid died"
		i=$((i + 1))
		[ "$i" -lt 500 ] || hard_error "unshare -U sleep as uid $uid did not start"
		sleep 0.01
	done
	SLEEPER_PID=$pid
}

# Kill a sleeper started above.
stop_sleeper() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# Normalised /proc/PID/{uid,gid}_map: "inner outer count" per line.
read_map() { awk '{print $1, $2, $3}' "/proc/$1/$2_map"; }

# as_user UID CMD...: run CMD with uid/gid UID and its groups.
as_user() {
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --init-groups "$@"
}

# capture CMD...: run CMD; C_RC = exit status, C_OUT = stdout, C_ERR = stderr.
C_RC=0
C_OUT=
C_ERR=
capture() {
	_out
	C_RC=0
	"$@" >"$T_OUT" 2>"$T_OUT.err" || C_RC=$?
	C_OUT=$(cat "$T_OUT")
	C_ERR=$(cat "$T_OUT.err")
	rm -f "$T_OUT.err"
}

# libsubid_query QUERY...: ask shadow's libsubid (the real loader, so the
# plugin when nsswitch.conf says so) through python3 ctypes.  QUERY is
# uranges:OWNER, granges:OWNER, uowners:ID or gowners:ID; prints per query
# "QUERY N item..." where N is libsubid's return value and the items are
# START+COUNT ranges or owner uids.
libsubid_query() {
	cat >"$W/libsubid_query.py" <<'PYEOF'
import ctypes, sys
class Range(ctypes.Structure):
    _fields_ = [("start", ctypes.c_ulong), ("count", ctypes.c_ulong)]
libc = ctypes.CDLL(None)
libc.free.argtypes = [ctypes.c_void_p]
lib = ctypes.CDLL("libsubid.so.4")
lib.subid_init.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
lib.subid_init.restype = ctypes.c_bool
lib.subid_init(b"subid-test", ctypes.c_void_p.in_dll(libc, "stderr"))
for name in ("subid_get_uid_ranges", "subid_get_gid_ranges"):
    f = getattr(lib, name)
    f.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.POINTER(Range))]
    f.restype = ctypes.c_int
for name in ("subid_get_uid_owners", "subid_get_gid_owners"):
    f = getattr(lib, name)
    f.argtypes = [ctypes.c_uint32, ctypes.POINTER(ctypes.POINTER(ctypes.c_uint32))]
    f.restype = ctypes.c_int
for q in sys.argv[1:]:
    what, arg = q.split(":", 1)
    if what in ("uranges", "granges"):
        p = ctypes.POINTER(Range)()
        f = lib.subid_get_uid_ranges if what == "uranges" else lib.subid_get_gid_ranges
        n = f(arg.encode(), ctypes.byref(p))
        items = ["%d+%d" % (p[i].start, p[i].count) for i in range(max(n, 0))]
    else:
        p = ctypes.POINTER(ctypes.c_uint32)()
        f = lib.subid_get_uid_owners if what == "uowners" else lib.subid_get_gid_owners
        n = f(int(arg), ctypes.byref(p))
        items = ["%d" % p[i] for i in range(max(n, 0))]
    if n > 0 and p:
        libc.free(ctypes.cast(p, ctypes.c_void_p))
    print(" ".join([q, str(n)] + items), flush=True)
PYEOF
	python3 "$W/libsubid_query.py" "$@"
}

# db_lock MODE SECONDS [DB]: a sqlite3 process takes the store's lock with
# BEGIN MODE (IMMEDIATE: writers wait; EXCLUSIVE: readers wait too), holds it
# for SECONDS and commits.  Returns once the lock is held; db_unlock waits
# for the holder to finish.
DB_LOCK_PID=
db_lock() {
	local mode=$1 secs=$2 db=${3:-$DB}
	: >"$W/lock.out"
	python3 -c 'import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN " + sys.argv[2])
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
c.execute("COMMIT")' "$db" "$mode" "$secs" >"$W/lock.out" 2>&1 &
	DB_LOCK_PID=$!
	bg_track "$DB_LOCK_PID"
	wait_ready "$DB_LOCK_PID" "$W/lock.out" locked "could not lock $db"
}

# wait_ready PID FILE LINE WHAT: wait (at most 5 s) until the background
# process PID has written LINE to FILE; hard error WHAT if it dies first.
wait_ready() {
	local i=0
	while ! grep -qx -- "$3" "$2"; do
		i=$((i + 1))
		[ "$i" -lt 500 ] || hard_error "$4: $(cat "$2")"
		kill -0 "$1" 2>/dev/null || hard_error "$4: $(cat "$2")"
		sleep 0.01
	done
}
# db_unlock: wait for the holder to commit; db_release: kill it now.
db_unlock() {
	wait "$DB_LOCK_PID" 2>/dev/null || true
	DB_LOCK_PID=
}
db_release() {
	kill "$DB_LOCK_PID" 2>/dev/null || true
	db_unlock
}

is_num() { [[ ${1:-} =~ ^[0-9]+$ ]]; }

# map_try UID START [COUNT]: as UID, newuidmap on a fresh user namespace of
# UID's, mapping "0 START COUNT" (default $C); MAP_RC and MAP (the uid_map).
# setpriv reads --reuid as a name first ("15002" may be an account named so):
# a leading 0 is no name and the same number.
map_try() {
	start_userns_sleeper "0$1"
	[ "$(stat -c %u "/proc/$SLEEPER_PID")" = "$1" ] ||
		hard_error "the user namespace of uid $1 runs as uid $(stat -c %u "/proc/$SLEEPER_PID")"
	MAP_RC=0
	as_user "0$1" newuidmap "$SLEEPER_PID" 0 "$2" "${3:-$C}" >"$W/map.out" 2>&1 || MAP_RC=$?
	MAP=$(read_map "$SLEEPER_PID" uid)
	stop_sleeper "$SLEEPER_PID"
}

# what the plugin logged around the last mapping, as diagnostics
_map_log() {
	local l
	l=$(log_text | grep -F -e 'libsubid_subid' -e 'refused owner=' -e 'newuidmap' | tail -n 4 || true)
	[ -z "$l" ] || printf '%s\n' "$l" | sed 's/^/#   | syslog: /'
}

# map_allowed DESC UID START: the mapping "0 START $C" is made
map_allowed() {
	if ! is_num "$3"; then
		not_ok "$1" "no range to map (start '$3')"
		return 0
	fi
	map_try "$2" "$3"
	if [ "$MAP_RC" -eq 0 ] && [ "$MAP" = "0 $3 $C" ]; then
		ok "$1"
	else
		not_ok "$1" "as uid $2: newuidmap PID 0 $3 $C: exit $MAP_RC, uid_map '$MAP' (expected '0 $3 $C')"
		diag_file "$W/map.out"
		_map_log
	fi
}

# map_refused DESC UID START: newuidmap refuses (exits < 128: no crash) and the map stays empty
map_refused() {
	if ! is_num "$3"; then
		not_ok "$1" "no range to try (start '$3')"
		return 0
	fi
	map_try "$2" "$3"
	if [ "$MAP_RC" -ne 0 ] && [ "$MAP_RC" -lt 128 ] && [ -z "$MAP" ]; then
		ok "$1"
	else
		not_ok "$1" "as uid $2: newuidmap PID 0 $3 $C: exit $MAP_RC, uid_map '$MAP' (expected a refusal)"
		diag_file "$W/map.out"
		_map_log
	fi
}

# leave_hot_journal DB: a writer that dies mid-transaction, leaving a hot
# journal beside DB and a half-written file
leave_hot_journal() {
	python3 - "$1" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("PRAGMA cache_size = 1")
c.execute("BEGIN IMMEDIATE")
for i in range(3000):
    c.execute("INSERT INTO meta(key, value) VALUES (?, ?)", ("junk%d" % i, i))
c.execute("DELETE FROM ranges")
os._exit(0)
PY
}

# Milliseconds since the epoch.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
